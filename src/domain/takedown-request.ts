import type { Repositories } from './ports/repositories.js';
import { overseesAll, type Caller } from './caller.js';
import { ForbiddenError, NotFoundError } from './errors.js';
import type { PollScheduler } from './collections.js';
import { retractCollection, retractImages, retractUploadBatch, type TakedownDeps, type TakedownResult } from './takedown.js';

/** What to take down, and why. */
export type TakedownRequest = { reason: string } & ({ scope: 'images'; imageIds: string[] } | { scope: 'batch'; uploadBatchId: string } | { scope: 'collection'; collectionId: string });

/** The owner (their data, their request), EPO reviewers and admins may take released images down. */
export function mayTakeDown(who: Caller, owner: string): boolean {
  return owner === who.username || overseesAll(who);
}

export interface TakedownRequestDeps {
  repos: Repositories;
  takedown: TakedownDeps;
  polls: Pick<PollScheduler, 'unschedulePoll'>;
}

/**
 * Checks the caller may take down everything the request touches, then
 * takes it down (see takedown.ts) and tells each collection's PI which of
 * their images went. A retired collection is no longer polled.
 *
 * The events are recorded together once the takedown is done, not in the
 * takedown's own transaction: it calls Zooniverse and the object store
 * between its database writes, so it is a run of steps, not one transaction.
 */
export async function requestTakedown(d: TakedownRequestDeps, who: Caller, req: TakedownRequest): Promise<TakedownResult[]> {
  for (const id of await collectionsTouched(d.repos, req)) {
    const c = await d.repos.collections.get(id);
    if (!mayTakeDown(who, c.owner)) throw new ForbiddenError(`only the owner of ${c.name}, EPO reviewers or admins can take its images down`);
  }
  const results =
    req.scope === 'images'
      ? await retractImages(d.takedown, [...new Set(req.imageIds)], who.username, req.reason)
      : req.scope === 'batch'
        ? await retractUploadBatch(d.takedown, req.uploadBatchId, who.username, req.reason)
        : await retractCollection(d.takedown, req.collectionId, who.username, req.reason);
  if (req.scope === 'collection') await d.polls.unschedulePoll(req.collectionId);
  const gone = results.filter((x) => x.ok).map((x) => x.imageId);
  if (gone.length) {
    const byCollection = await d.repos.images.byCollection(gone);
    await d.repos.transaction(async (tx) => {
      for (const [cid, imageIds] of byCollection) await tx.events.record(cid, 'images_retracted', { imageIds, by: who.username, reason: req.reason });
    });
  }
  return results;
}

async function collectionsTouched(repos: Repositories, req: TakedownRequest): Promise<string[]> {
  if (req.scope === 'images') {
    const byCollection = await repos.images.byCollection(req.imageIds);
    const found = [...byCollection.values()].reduce((n, ids) => n + ids.length, 0);
    if (found !== new Set(req.imageIds).size) throw new NotFoundError('some of these images do not exist', { field: 'imageIds' });
    return [...byCollection.keys()];
  }
  if (req.scope === 'batch') {
    const id = await repos.uploadBatches.collectionOf(req.uploadBatchId);
    if (!id) throw new NotFoundError(`upload batch ${req.uploadBatchId} not found`, { field: 'uploadBatchId' });
    return [id];
  }
  return [req.collectionId];
}
