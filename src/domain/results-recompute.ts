import type { Collection } from './model.js';
import type { JobQueue } from './ports/job-queue.js';
import type { Repositories } from './ports/repositories.js';

/**
 * A PI or operator asks for the collection's reductions to be rebuilt from
 * every stored classification (after fixing workflow answers in Zooniverse,
 * say, or to check that nothing drifted). Nothing is recomputed here: the
 * collection is marked, in the same transaction as its audit row, and the
 * reduction job (which holds the collection's lock, so it never races a
 * running reduction) does the work on its next run. With a queue that run
 * starts now; without one (a CLI without REDIS_URL) the service's sweep
 * finds the mark and queues it.
 */
export async function requestRecompute(d: { repos: Repositories; queues?: Pick<JobQueue, 'add'> }, actor: string, c: Pick<Collection, 'id' | 'name'>): Promise<{ queued: boolean }> {
  await d.repos.transaction(async (tx) => {
    await tx.reductions.markForRecompute(c.id);
    await tx.audit.append([{ actor, action: 'results_recompute', entity: 'collection', entityId: c.id, collectionId: c.id, reason: null, detail: { collection: c.name } }]);
  });
  if (!d.queues) return { queued: false };
  await d.queues.add('reduceResults', { collectionId: c.id });
  return { queued: true };
}
