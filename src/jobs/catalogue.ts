import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { JobsOptions } from 'bullmq';
import { backoffDelay } from '../adapters/http/retry.js';

/**
 * Every job the bridge runs, in one place: name, queue, payload schema
 * (checked when enqueued and again in the worker), job id (deduplication:
 * the same work enqueued twice while pending is one job) and retry policy.
 * Payloads carry ids only: never tokens, URLs or secrets.
 */

const uuid = z.string().uuid();
/**
 * Exponential with jitter, but never sooner than an upstream asked
 * (Retry-After on 429/503): see `retryDelay`, which workers use for this type.
 */
export const BACKOFF_TYPE = 'upstream-aware';
const backoff = (delay: number) => ({ type: BACKOFF_TYPE, delay });

/**
 * Delay before retry `attemptsMade` (1 = first retry): base * 2^(n-1), drawn
 * uniformly from its upper half so a crowd of failed jobs spreads out, and
 * raised to the upstream's Retry-After when the error carries one.
 */
export function retryDelay(baseMs: number, attemptsMade: number, err?: unknown, random = Math.random): number {
  const jittered = backoffDelay(attemptsMade, { baseDelayMs: baseMs, jitter: 'upper-half' }, random);
  const asked = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof asked === 'number' && Number.isFinite(asked) && asked > jittered ? Math.ceil(asked) : jittered;
}
const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

export const JOBS = {
  poll: {
    queue: 'poll',
    schema: z.object({ collectionId: uuid }).strict(),
    jobId: (p: { collectionId: string }) => `poll-${p.collectionId}`,
    opts: { attempts: 3, backoff: backoff(10_000) },
  },
  retrieve: {
    queue: 'retrieve',
    schema: z.object({ artifactId: uuid }).strict(),
    jobId: (p: { artifactId: string }) => `retrieve-${p.artifactId}`,
    opts: { attempts: 8, backoff: backoff(5_000) },
  },
  convert: {
    queue: 'convert',
    schema: z.object({ collectionId: uuid, groupKey: z.string().min(2).max(2000) }).strict(),
    jobId: (p: { collectionId: string; groupKey: string }) => `convert-${p.collectionId}-${shortHash(p.groupKey)}`,
    opts: { attempts: 3, backoff: backoff(15_000) },
  },
  evaluate: {
    queue: 'review',
    schema: z.object({ collectionId: uuid, after: z.string().min(1).max(2000) }).strict(),
    // Evaluation covers the whole collection, but each conversion asks for its
    // own: a job id per collection would be dropped while another evaluation
    // of the collection is running, leaving the new images to the sweep.
    jobId: (p: { collectionId: string; after: string }) => `evaluate-${p.collectionId}-${shortHash(p.after)}`,
    opts: { attempts: 5, backoff: backoff(5_000) },
  },
  publish: {
    queue: 'publish',
    schema: z.object({ imageId: uuid }).strict(),
    jobId: (p: { imageId: string }) => `publish-${p.imageId}`,
    opts: { attempts: 5, backoff: backoff(5_000) },
  },
  manifest: {
    queue: 'publish',
    schema: z.object({ collectionId: uuid, round: z.string().min(1).max(64) }).strict(),
    jobId: (p: { collectionId: string; round: string }) => `manifest-${p.collectionId}-${p.round}`,
    opts: { attempts: 5, backoff: backoff(5_000) },
  },
  upload: {
    queue: 'upload',
    schema: z.object({ collectionId: uuid, round: z.string().min(1).max(64) }).strict(),
    jobId: (p: { collectionId: string; round: string }) => `upload-${p.collectionId}-${p.round}`,
    opts: { attempts: 8, backoff: backoff(30_000) },
  },
  notify: {
    queue: 'notify',
    schema: z.object({ eventId: z.string().regex(/^\d{1,18}$/) }).strict(),
    jobId: (p: { eventId: string }) => `notify-${p.eventId}`,
    opts: { attempts: 8, backoff: backoff(30_000) },
  },
  sweep: {
    queue: 'maintenance',
    schema: z.object({}).strict(),
    jobId: () => 'sweep',
    opts: { attempts: 1 },
  },
} as const;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]['schema']>;
export const QUEUE_NAMES = [...new Set(Object.values(JOBS).map((j) => j.queue))];

/** Completed jobs are dropped (the database is the record); ids become free for later work. */
export const COMMON_OPTS: JobsOptions = { removeOnComplete: true, removeOnFail: true };

/** A name for one release of a collection's images: the same images give the same round (deduplication). */
export function releaseRound(imageIds: string[]): string {
  return shortHash([...imageIds].sort().join(','));
}

export function jobOptions<N extends JobName>(name: N, payload: JobPayload<N>): JobsOptions {
  const def = JOBS[name];
  return { ...COMMON_OPTS, ...def.opts, jobId: (def.jobId as (p: JobPayload<N>) => string)(payload) };
}
