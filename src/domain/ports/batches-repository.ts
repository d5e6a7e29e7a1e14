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
  /**
   * Marks, and returns once, a batch every one of whose datasets has been
   * retrieved into quarantine (none still waiting, none failed before it
   * was retrieved). Takes the batch's row lock first, so that of two
   * retrievals finishing a batch at once the later sees the earlier's.
   */
  markFilesRetrieved(batchId: string): Promise<{ id: string; seq: number; datasets: number; bytes: number } | undefined>;
  /** Takes the batch's row lock until the transaction ends. */
  lock(batchId: string): Promise<void>;
  /** New work for a settled batch (a retried dataset): it will be settled, and announced, again. */
  unsettle(batchId: string): Promise<void>;
}
