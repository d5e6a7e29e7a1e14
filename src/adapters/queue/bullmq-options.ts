import type { JobsOptions } from 'bullmq';
import { JOBS, jobId, type JobName, type JobPayload, type RetryPolicy } from '../../jobs/catalogue.js';

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
