import type { Db } from '../db/database.js';
import { createRepositories } from '../db/repositories/index.js';
import { getCollection } from '../db/repositories/collections.js';
import { transition } from '../db/repositories/transitions.js';
import type { PanoptesClient } from './panoptes-port.js';
import type { Logger, ObjectStore } from './ports.js';
import { ConflictError, NotFoundError, UpstreamRefusedError } from './errors.js';
import { unpublishImage } from './publish.js';
import { retractBatch } from './upload.js';

/**
 * Takedown: an image, an upload batch or a whole collection leaves
 * Zooniverse (unlinked from its set, its subject deleted where Panoptes
 * allows) and the public store, and the audit log says who and why. Each
 * step is idempotent, so a takedown interrupted half-way is finished by
 * running it again.
 */
export interface TakedownDeps {
  db: Db;
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

function needPanoptes(d: TakedownDeps): PanoptesClient {
  if (!d.panoptes) throw new UpstreamRefusedError('subjects are on Zooniverse but no Zooniverse credentials are configured, so they cannot be removed');
  return d.panoptes;
}

/** Removes the image's subject from Zooniverse (if it has one), then withdraws the public object. */
async function retractOne(d: TakedownDeps, imageId: string, actor: string, reason: string): Promise<void> {
  const items = await d.db
    .selectFrom('upload_items')
    .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
    .select(['upload_items.id', 'upload_items.state', 'upload_items.subject_id', 'upload_batches.subject_set_id'])
    .where('upload_items.image_id', '=', imageId)
    .where('upload_items.state', 'in', ['created', 'linked'])
    .execute();
  for (const it of items) {
    if (it.subject_id) {
      const panoptes = needPanoptes(d);
      if (it.state === 'linked' && it.subject_set_id) await panoptes.unlinkSubjects(it.subject_set_id, [it.subject_id]);
      await panoptes.deleteSubject(it.subject_id);
    }
    await d.db.updateTable('upload_items').set({ state: 'retracted', updated_at: new Date() }).where('id', '=', it.id).execute();
  }
  await unpublishImage({ repos: createRepositories(d.db), store: d.store }, imageId, actor, reason);
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
  const batch = await d.db.selectFrom('upload_batches').selectAll().where('id', '=', uploadBatchId).executeTakeFirst();
  if (!batch) throw new NotFoundError(`upload batch ${uploadBatchId} not found`);
  const subjects = await d.db.selectFrom('upload_items').select('id').where('upload_batch_id', '=', batch.id).where('subject_id', 'is not', null).where('state', '!=', 'retracted').limit(1).execute();
  if (subjects.length) await retractBatch({ db: d.db, panoptes: needPanoptes(d), store: d.store, log: d.log }, batch.id, actor);
  const images = await d.db.selectFrom('upload_items').select('image_id').where('upload_batch_id', '=', batch.id).execute();
  return retractImages(d, images.map((i) => i.image_id), actor, reason);
}

/**
 * Everything a collection has released, then the collection itself is
 * retired so nothing new is polled or released.
 */
export async function retractCollection(d: TakedownDeps, collectionId: string, actor: string, reason: string): Promise<TakedownResult[]> {
  const c = await getCollection(d.db, collectionId);
  const out: TakedownResult[] = [];
  const batches = await d.db.selectFrom('upload_batches').select('id').where('collection_id', '=', c.id).where('state', '!=', 'retracted').orderBy('seq').execute();
  for (const b of batches) out.push(...(await retractUploadBatch(d, b.id, actor, reason)));
  const loose = await d.db.selectFrom('images').select('id').where('collection_id', '=', c.id).where('state', 'in', ['published', 'uploaded']).execute();
  out.push(...(await retractImages(d, loose.map((i) => i.id), actor, reason)));
  if (c.status !== 'retired') await transition(d.db, 'collection', c.id, c.status, 'retired', actor, {}, reason);
  return out;
}
