import type { Batch } from '../model.js';

/** A poll batch with its review counts. */
export type BatchSummary = Batch & { pending: number; approved: number; rejected: number; total: number };

/**
 * A batch is what one poll brought in: the unit reviewers see together and
 * the policy's per-batch caps count. Numbered per collection.
 */
/** What a settled batch brought in, as its PI is told. */
export interface SettledBatch {
  id: string;
  seq: number;
  /** Datasets the poll found, and how many of them failed to retrieve or convert. */
  datasets: number;
  failed_datasets: number;
  /** Images made, by the policy's verdict; stamps that failed to convert. */
  images: number;
  pending_review: number;
  rejected: number;
  auto_approved: number;
  held: number;
  failed_stamps: number;
}

export interface BatchesRepository {
  create(collectionId: string): Promise<Batch>;
  list(collectionId: string): Promise<BatchSummary[]>;
  /**
   * Marks settled, and returns, the collection's unsettled batches with no
   * work left: no dataset waiting to be retrieved, no band group ready to
   * convert (every band in `bands` retrieved, or a retrieved archive), no
   * image waiting for the policy. A group still missing a band belongs to
   * the batch that will complete it. Each batch is returned once, whichever
   * process asks.
   */
  settle(collectionId: string, bands: string[]): Promise<SettledBatch[]>;
  /** New work for a settled batch (a retried dataset): it will be settled, and announced, again. */
  unsettle(batchId: string): Promise<void>;
}
