import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Every job the bridge runs, in one place: name, queue, payload schema
 * (checked when enqueued and again in the worker), job id (deduplication:
 * the same work enqueued twice while pending is one job) and retry policy.
 * Payloads carry ids only: never tokens, URLs or secrets.
 *
 * Nothing here knows the queue library: the JobQueue port takes its payload
 * types from this table, and the BullMQ adapter maps `retry` to its options.
 */

/** How often a job is tried, and the base of its backoff (the queue adapter's `retryDelay`); no base: retried at once. */
export interface RetryPolicy {
  attempts: number;
  backoffMs?: number;
}

const uuid = z.string().uuid();

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

export const JOBS = {
  poll: {
    queue: 'poll',
    schema: z.object({ collectionId: uuid }).strict(),
    jobId: (p: { collectionId: string }) => `poll-${p.collectionId}`,
    retry: { attempts: 3, backoffMs: 10_000 },
  },
  retrieve: {
    queue: 'retrieve',
    schema: z.object({ artifactId: uuid }).strict(),
    jobId: (p: { artifactId: string }) => `retrieve-${p.artifactId}`,
    retry: { attempts: 8, backoffMs: 5_000 },
  },
  convert: {
    queue: 'convert',
    schema: z.object({ collectionId: uuid, groupKey: z.string().min(2).max(2000) }).strict(),
    jobId: (p: { collectionId: string; groupKey: string }) => `convert-${p.collectionId}-${shortHash(p.groupKey)}`,
    retry: { attempts: 3, backoffMs: 15_000 },
  },
  evaluate: {
    queue: 'review',
    schema: z.object({ collectionId: uuid, after: z.string().min(1).max(2000) }).strict(),
    // Evaluation covers the whole collection, but each conversion asks for its
    // own: a job id per collection would be dropped while another evaluation
    // of the collection is running, leaving the new images to the sweep.
    jobId: (p: { collectionId: string; after: string }) => `evaluate-${p.collectionId}-${shortHash(p.after)}`,
    retry: { attempts: 5, backoffMs: 5_000 },
  },
  publish: {
    queue: 'publish',
    schema: z.object({ imageId: uuid }).strict(),
    jobId: (p: { imageId: string }) => `publish-${p.imageId}`,
    retry: { attempts: 5, backoffMs: 5_000 },
  },
  manifest: {
    queue: 'publish',
    schema: z.object({ collectionId: uuid, round: z.string().min(1).max(64) }).strict(),
    jobId: (p: { collectionId: string; round: string }) => `manifest-${p.collectionId}-${p.round}`,
    retry: { attempts: 5, backoffMs: 5_000 },
  },
  upload: {
    queue: 'upload',
    schema: z.object({ collectionId: uuid, round: z.string().min(1).max(64) }).strict(),
    jobId: (p: { collectionId: string; round: string }) => `upload-${p.collectionId}-${p.round}`,
    retry: { attempts: 8, backoffMs: 30_000 },
  },
  notify: {
    queue: 'notify',
    schema: z.object({ eventId: z.string().regex(/^\d{1,18}$/) }).strict(),
    jobId: (p: { eventId: string }) => `notify-${p.eventId}`,
    retry: { attempts: 8, backoffMs: 30_000 },
  },
  // The results loop (issue 14): pull a project's new classifications, backfill it from an export,
  // reduce a collection's new arrivals, then apply its results rules.
  pullClassifications: {
    queue: 'results',
    schema: z.object({ projectId: z.string().regex(/^\d{1,18}$/) }).strict(),
    jobId: (p: { projectId: string }) => `pull-classifications-${p.projectId}`,
    retry: { attempts: 5, backoffMs: 30_000 },
  },
  backfillExport: {
    queue: 'results',
    schema: z.object({ projectId: z.string().regex(/^\d{1,18}$/) }).strict(),
    jobId: (p: { projectId: string }) => `backfill-export-${p.projectId}`,
    retry: { attempts: 5, backoffMs: 60_000 },
  },
  reduceResults: {
    queue: 'results',
    schema: z.object({ collectionId: uuid }).strict(),
    jobId: (p: { collectionId: string }) => `reduce-results-${p.collectionId}`,
    retry: { attempts: 5, backoffMs: 10_000 },
  },
  applyResultRules: {
    queue: 'results',
    schema: z.object({ collectionId: uuid }).strict(),
    jobId: (p: { collectionId: string }) => `apply-result-rules-${p.collectionId}`,
    retry: { attempts: 8, backoffMs: 30_000 },
  },
  sweep: {
    queue: 'maintenance',
    schema: z.object({}).strict(),
    jobId: () => 'sweep',
    retry: { attempts: 1 },
  },
} as const satisfies Record<string, { queue: string; schema: z.ZodType; jobId: (p: never) => string; retry: RetryPolicy }>;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]['schema']>;
export const QUEUE_NAMES = [...new Set(Object.values(JOBS).map((j) => j.queue))];

/** The id a job gets for this payload (the catalogue's deduplication rule). */
export function jobId<N extends JobName>(name: N, payload: JobPayload<N>): string {
  return (JOBS[name].jobId as (p: JobPayload<N>) => string)(payload);
}

/** A name for one release of a collection's images: the same images give the same round (deduplication). */
export function releaseRound(imageIds: string[]): string {
  return shortHash([...imageIds].sort().join(','));
}
