import type { JobsOptions } from 'bullmq';
import { JOBS, jobId, type JobName, type JobPayload, type RetryPolicy } from '../../domain/jobs.js';
import { backoffDelay } from '../http/retry.js';

/**
 * The catalogue's retry policy in BullMQ's terms. Retries use a custom
 * backoff type that the workers resolve with `retryDelay` (exponential with
 * jitter, but never sooner than an upstream's Retry-After), which BullMQ's
 * built-in types cannot express.
 */
export const BACKOFF_TYPE = 'upstream-aware';

/** Completed jobs are dropped (the database is the record); ids become free for later work. */
export const COMMON_OPTS: JobsOptions = { removeOnComplete: true, removeOnFail: true };

export function retryOptions(name: JobName): Pick<JobsOptions, 'attempts' | 'backoff'> {
  const r: RetryPolicy = JOBS[name].retry;
  return r.backoffMs === undefined ? { attempts: r.attempts } : { attempts: r.attempts, backoff: { type: BACKOFF_TYPE, delay: r.backoffMs } };
}

export function jobOptions<N extends JobName>(name: N, payload: JobPayload<N>): JobsOptions {
  return { ...COMMON_OPTS, ...retryOptions(name), jobId: jobId(name, payload) };
}

/**
 * Delay before retry `attemptsMade` (1 = first retry): base * 2^(n-1), drawn
 * uniformly from its upper half so a crowd of failed jobs spreads out, and
 * raised to the upstream's Retry-After (429/503) when the error carries one:
 * never sooner than an upstream asked.
 */
export function retryDelay(baseMs: number, attemptsMade: number, err?: unknown, random = Math.random): number {
  const jittered = backoffDelay(attemptsMade, { baseDelayMs: baseMs, jitter: 'upper-half' }, random);
  const asked = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof asked === 'number' && Number.isFinite(asked) && asked > jittered ? Math.ceil(asked) : jittered;
}
