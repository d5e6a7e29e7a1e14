import type { Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';

/**
 * The PI hears about a poll batch once, when all of it has been through
 * retrieval, conversion and the policy: one `batch_quarantined` event with
 * what the batch brought in, instead of one per band group as groups finish.
 * Every step that can finish a batch's last piece of work calls this (the
 * policy run, a conversion, a failed dataset, the sweep); the repository
 * makes sure only one of them announces it.
 */
export async function settleBatches(repos: Repositories, c: Pick<Collection, 'id' | 'rgb'>): Promise<number> {
  return repos.transaction(async (tx) => {
    const settled = await tx.batches.settle(c.id, [...new Set(c.rgb ?? [])]);
    for (const b of settled) {
      const { id, ...counts } = b;
      await tx.events.record(c.id, 'batch_quarantined', { batchId: id, ...counts });
    }
    return settled.length;
  });
}
