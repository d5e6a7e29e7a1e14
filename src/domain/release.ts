import type { Db } from '../db/database.js';
import { getCollection } from '../db/repositories/collections.js';
import type { PanoptesClient } from './panoptes-port.js';
import type { Logger, ObjectStore } from './ports.js';
import { failBatch, uploadBatch } from './upload.js';

/**
 * The release of approved images: what the flow's parent job does once the
 * images are published and the manifests written, and what the sweep looks
 * for when a release was lost.
 */
export interface ReleaseDeps {
  db: Db;
  store: ObjectStore;
  log: Logger;
  /** Absent without Zooniverse credentials: batches stop at their manifests (the export still works). */
  panoptes?: PanoptesClient;
}

/** Uploads every batch of the collection that is manifested or part-way, oldest first. */
export async function uploadCollection(d: ReleaseDeps, collectionId: string): Promise<{ uploaded: number; skipped?: string }> {
  const c = await getCollection(d.db, collectionId);
  if (!d.panoptes) return { uploaded: 0, skipped: 'no Zooniverse credentials are configured; the manifests are ready for import or export' };
  if (!c.zooniverse_project_id) return { uploaded: 0, skipped: `collection ${c.name} has no Zooniverse project id` };
  const batches = await d.db
    .selectFrom('upload_batches')
    .select('id')
    .where('collection_id', '=', c.id)
    .where('state', 'in', ['manifested', 'uploading', 'verifying'])
    // Export batches are for the offline path; they never go to the API.
    .where('mode', '!=', 'export')
    .orderBy('seq')
    .execute();
  for (const b of batches) await uploadBatch({ db: d.db, panoptes: d.panoptes, store: d.store, log: d.log }, b.id);
  return { uploaded: batches.length };
}

/** Approved images not yet published, by collection: their release job was lost. */
export async function approvedUnpublished(db: Db, olderThan: Date, limit = 10_000): Promise<Map<string, string[]>> {
  const rows = await db.selectFrom('images').select(['id', 'collection_id']).where('state', '=', 'approved').where('updated_at', '<', olderThan).orderBy('collection_id').limit(limit).execute();
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.collection_id, [...(out.get(r.collection_id) ?? []), r.id]);
  return out;
}

/**
 * The job layer gives up on a collection's upload: the batch that was in
 * progress ends 'failed' with the reason for the PI (and a batch_failed
 * event), instead of sitting in 'uploading' with nobody working on it.
 * Batches not yet started stay manifested for the next release.
 */
export async function giveUpUploads(d: Pick<ReleaseDeps, 'db'>, collectionId: string, reason: string): Promise<number> {
  const open = await d.db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', 'in', ['uploading', 'verifying']).execute();
  let n = 0;
  for (const b of open) if (await failBatch({ db: d.db }, b.id, reason)) n++;
  return n;
}
