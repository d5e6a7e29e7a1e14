import type { UploadBatch } from './model.js';
import type { PanoptesClient } from './ports/panoptes-client.js';
import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';
import type { UploadTuning } from './upload-config.js';
import type { SubjectScope } from './upload-reconcile.js';

/** What one run did, for its report and the log. */
export interface RunStats {
  createRequests: number;
  ambiguous: number;
  rounds: number;
  /** Listings made to reconcile (one per round that had ambiguous creates) and the subjects they read. */
  listings: number;
  scanned: number;
  adopted: number;
  linkRequests: number;
  imports: number;
  ms: number;
}

export function newStats(): RunStats {
  return { createRequests: 0, ambiguous: 0, rounds: 0, listings: 0, scanned: 0, adopted: 0, linkRequests: 0, imports: 0, ms: 0 };
}

/**
 * What the phases of one run (creating, linking, importing, verifying)
 * share. The engine owns it: it keeps `batch` in step with what it records
 * (state, set, import, mode) and sets `setId` before any phase starts.
 */
export interface UploadRun {
  readonly batch: UploadBatch;
  readonly projectId: string;
  setId: string;
  readonly repos: Repositories;
  /** Already wrapped to ask again after a token refusal (upload-retry.ts). */
  readonly panoptes: PanoptesClient;
  readonly log: Logger;
  readonly t: UploadTuning;
  readonly stats: RunStats;
  /** External ids held by more than one subject, as the run came across them. */
  readonly duplicates: Map<string, string[]>;
}

/**
 * Where a subject sent for this batch can be: its set, once one is on
 * record (every create and import names it, and the set is saved before
 * the first one). Without a set nothing can have been sent; the project
 * listing is only the safe answer should that ever not hold.
 */
export function sentScope(run: Pick<UploadRun, 'batch' | 'projectId'>): SubjectScope {
  return run.batch.subject_set_id ? { subjectSetId: run.batch.subject_set_id } : { projectId: run.projectId };
}

/** `work` over `items`, `n` at a time; stops taking new items once `stopped()` says so. */
export async function pool<T>(items: readonly T[], n: number, stopped: () => boolean, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (!stopped() && next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, runner));
}
