import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { JobsOptions } from 'bullmq';

/**
 * Every job the bridge runs, in one place: name, queue, payload schema
 * (checked when enqueued and again in the worker), job id (deduplication:
 * the same work enqueued twice while pending is one job) and retry policy.
 * Payloads carry ids only: never tokens, URLs or secrets.
 */

const uuid = z.string().uuid();
const backoff = (delay: number) => ({ type: 'exponential' as const, delay, jitter: 0.5 });
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

export function jobOptions<N extends JobName>(name: N, payload: JobPayload<N>): JobsOptions {
  const def = JOBS[name];
  return { ...COMMON_OPTS, ...def.opts, jobId: (def.jobId as (p: JobPayload<N>) => string)(payload) };
}
