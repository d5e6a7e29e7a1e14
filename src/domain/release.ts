import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { getCollection } from '../db/repositories/collections.js';
import type { PanoptesClient } from './panoptes-port.js';
import type { Logger, ObjectStore } from './ports.js';
import { failBatch, uploadBatch, uploadProgress, type UploadProgress } from './upload.js';

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

export interface ReleaseProgress {
  collectionId: string;
  /** Approved by review, not yet in the public store. */
  approved: number;
  /** Live in the public store (published, or published and uploaded). */
  published: number;
  /** Subjects known to exist at Zooniverse and linked to their set, over every batch. */
  created: number;
  linked: number;
  /** Subjects the batches hold (retracted ones excluded). */
  total: number;
  /** Newest first. */
  batches: UploadProgress[];
  /** Nothing is waiting and no batch is on its way: a watcher can stop. */
  settled: boolean;
}

/** States a batch stays in until someone acts (or it is done). */
const RESTING = new Set(['uploaded', 'blocked', 'failed', 'retracted']);

/**
 * The whole release of one collection, from approval to linked subjects: what
 * the API, `bridge status` and the reviewer/PI page show. Read from the
 * database alone (the truth), so it is the same whichever process asks.
 * A manifested batch counts as settled only when there is nobody to upload it
 * (`uploading` = false: no Zooniverse credentials or project).
 */
export async function releaseProgress(db: Db, collectionId: string, opts: { uploading?: boolean } = {}): Promise<ReleaseProgress> {
  const counts = await db
    .selectFrom('images')
    .select([sql<number>`count(*) filter (where state = 'approved')::int`.as('approved'), sql<number>`count(*) filter (where state in ('published', 'uploaded') and public_key is not null)::int`.as('published')])
    .where('collection_id', '=', collectionId)
    .executeTakeFirstOrThrow();
  const ids = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).orderBy('seq', 'desc').limit(200).execute();
  const batches: UploadProgress[] = [];
  for (const b of ids) batches.push(await uploadProgress(db, b.id));
  const live = batches.filter((b) => b.state !== 'retracted');
  const uploading = opts.uploading ?? true;
  const settled = counts.approved === 0 && batches.every((b) => RESTING.has(b.state) || (!uploading && b.state === 'manifested') || b.mode === 'export');
  return {
    collectionId,
    approved: counts.approved,
    published: counts.published,
    created: live.reduce((a, b) => a + b.created, 0),
    linked: live.reduce((a, b) => a + b.linked, 0),
    total: live.reduce((a, b) => a + b.total - b.retracted, 0),
    batches,
    settled,
  };
}
