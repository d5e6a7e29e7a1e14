import type { PanoptesClient } from './ports/panoptes-client.js';
import type { Lock } from './ports/lock.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import type { Repositories } from './ports/repositories.js';
import { ConflictError, NotFoundError } from './errors.js';
import { unpublishImage } from './publish.js';
import { requirePanoptes, retractBatch, retractImageSubjects } from './retraction.js';

/**
 * Takedown: an image, an upload batch or a whole collection leaves
 * Zooniverse (unlinked from its set, its subject deleted where Panoptes
 * allows) and the public store, and the audit log says who and why. Each
 * step is idempotent, so a takedown interrupted half-way is finished by
 * running it again.
 */
export interface TakedownDeps {
  repos: Repositories;
  /** The upload lock: a batch is not retracted while a run is uploading it. */
  lock: Lock;
  store: ObjectStore;
  log: Logger;
  /** Needed only when something was uploaded. */
  panoptes?: PanoptesClient;
}

export interface TakedownResult {
  imageId: string;
  ok: boolean;
  error?: string;
}

/** Removes the image's subject from Zooniverse (if it has one), then withdraws the public object. */
async function retractOne(d: TakedownDeps, imageId: string, actor: string, reason: string): Promise<void> {
  await retractImageSubjects(d, imageId);
  await unpublishImage({ repos: d.repos, store: d.store }, imageId, actor, reason);
}

export async function retractImages(d: TakedownDeps, imageIds: string[], actor: string, reason: string): Promise<TakedownResult[]> {
  const out: TakedownResult[] = [];
  for (const id of imageIds) {
    try {
      await retractOne(d, id, actor, reason);
      out.push({ imageId: id, ok: true });
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
      out.push({ imageId: id, ok: false, error: e.message });
    }
  }
  return out;
}

/** A whole upload batch: its subjects in bulk (unlinked in chunks), then its public objects. */
export async function retractUploadBatch(d: TakedownDeps, uploadBatchId: string, actor: string, reason: string): Promise<TakedownResult[]> {
  const batch = await d.repos.ledger.get(uploadBatchId);
  if (await d.repos.ledger.holdsSubjects(batch.id)) await retractBatch({ repos: d.repos, lock: d.lock, panoptes: requirePanoptes(d.panoptes), store: d.store, log: d.log }, batch.id, actor);
  return retractImages(d, await d.repos.ledger.imageIds(batch.id), actor, reason);
}

/**
 * Everything a collection has released, then the collection itself is
 * retired so nothing new is polled or released.
 */
export async function retractCollection(d: TakedownDeps, collectionId: string, actor: string, reason: string): Promise<TakedownResult[]> {
  const c = await d.repos.collections.get(collectionId);
  const out: TakedownResult[] = [];
  for (const id of await d.repos.ledger.unretractedOf(c.id)) out.push(...(await retractUploadBatch(d, id, actor, reason)));
  out.push(...(await retractImages(d, await d.repos.images.releasedIds(c.id), actor, reason)));
  if (c.status !== 'retired') await d.repos.collections.setStatus(c.id, c.status, 'retired', actor, reason);
  return out;
}
