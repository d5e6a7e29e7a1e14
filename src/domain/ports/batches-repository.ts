import type { Batch } from '../model.js';

/** A poll batch with its review counts. */
export type BatchSummary = Batch & { pending: number; approved: number; rejected: number; total: number };

/**
 * A batch is what one poll brought in: the unit reviewers see together and
 * the policy's per-batch caps count. Numbered per collection.
 */
export interface BatchesRepository {
  create(collectionId: string): Promise<Batch>;
  list(collectionId: string): Promise<BatchSummary[]>;
}
