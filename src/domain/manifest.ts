import type { UploadBatch } from './model.js';
import type { Repositories } from './ports/repositories.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { ObjectStore } from './ports/object-store.js';
import { contentTypeOfKey, putPublicManifest } from './publish.js';
import { toCsv } from './csv.js';
import { metadataColumns, parseExtraMetadata, subjectMetadata, type SubjectMetadata } from './subject-metadata.js';

/**
 * Upload batches and their manifests. A batch is a fixed list of published
 * images (the upload_items ledger, one row per future subject with its
 * external_id) planned once; its manifest is written in the two forms
 * Zooniverse accepts, both in the public store:
 *
 *   manifests/<collection id>/batch-<seq>.csv   subject_set_imports: external_id, location:1, metadata:<key>
 *   manifests/<collection id>/batch-<seq>.json  [{ external_id, locations: [{ "image/png": url }], metadata }]
 *
 * The metadata of each subject is src/domain/subject-metadata.ts (bridge
 * keys, coordinates only where the policy allows, the PI's extra columns).
 * Location 1 is the colour image; a collection with subject_frames adds its
 * per-band grey frames as locations 2..n (Zooniverse shows them as a
 * flipbook), in channel order.
 */

/** Panoptes refuses larger imports from non-admins. */
export const MAX_IMPORT_ROWS = 10_000;

export interface ManifestSubject {
  external_id: string;
  locations: Record<string, string>[];
  metadata: SubjectMetadata;
}

/** The subject_set_imports form: metadata:<key> columns, empty where a subject lacks the key. */
export function manifestCsv(subjects: ManifestSubject[]): string {
  const keys = metadataColumns(subjects.map((s) => s.metadata));
  const locations = Math.max(1, ...subjects.map((s) => s.locations.length));
  const header = ['external_id', ...Array.from({ length: locations }, (_, i) => `location:${i + 1}`), ...keys.map((k) => `metadata:${k}`)];
  const rows = subjects.map((s) => [
    s.external_id,
    ...Array.from({ length: locations }, (_, i) => (s.locations[i] ? Object.values(s.locations[i])[0] : '')),
    ...keys.map((k) => (k in s.metadata ? String(s.metadata[k]) : '')),
  ]);
  return toCsv(header, rows);
}

// ---------------------------------------------------------------------------
// Planning

export interface PlannedBatch {
  id: string;
  seq: number;
  total: number;
}

/**
 * Puts the collection's published images that are in no upload batch yet
 * into new batches of at most max_batch_size (and never more than 10,000),
 * in stable order (review batch, group, stamp). Each batch gets its ledger
 * rows (state intent, external_id = the bridge image id) in the same
 * transaction, under a lock on the collection, so two planners cannot split
 * the same images twice; the unique external_id backs that up. Returns only
 * the batches created by this call (none when there is nothing new).
 */
export async function planUploadBatches(d: { repos: Repositories }, collectionId: string): Promise<PlannedBatch[]> {
  const c = await d.repos.collections.get(collectionId);
  return d.repos.transaction(async (tx) => {
    // Read under the lock: the batch size and mode are the ones in force now.
    const fresh = await tx.collections.lock(c.id);
    const todo = await tx.uploadBatches.unplannedImages(c.id);
    if (!todo.length) return [];
    const size = Math.max(1, Math.min(fresh.max_batch_size, MAX_IMPORT_ROWS));
    const planned: PlannedBatch[] = [];
    for (let i = 0, seq = (await tx.uploadBatches.lastSeq(c.id)) + 1; i < todo.length; i += size, seq++) {
      const batch = await tx.uploadBatches.create({ collectionId: c.id, seq, mode: fresh.upload_mode, imageIds: todo.slice(i, i + size) });
      planned.push({ id: batch.id, seq: batch.seq, total: batch.total });
    }
    return planned;
  });
}

// ---------------------------------------------------------------------------
// Writing

export interface ManifestResult {
  batchId: string;
  seq: number;
  total: number;
  csvKey: string;
  jsonKey: string;
  csvUrl: string;
  jsonUrl: string;
  /** The batch was already past 'manifested': nothing was rewritten. */
  unchanged: boolean;
  /** Extra columns left out of coordinate-stripped subjects, by image id. */
  dropped: Record<string, string[]>;
}

export function manifestKeys(collectionId: string, seq: number): { csv: string; json: string } {
  const base = `manifests/${collectionId}/batch-${seq}`;
  return { csv: `${base}.csv`, json: `${base}.json` };
}

function joinUrl(base: string, key: string): string {
  return `${base.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Builds the batch's subjects from its ledger. Items retracted since planning
 * are left out; anything else that is not live in the public store is an error.
 */
export async function batchSubjects(repos: Repositories, batch: UploadBatch, url: (key: string) => string): Promise<{ subjects: ManifestSubject[]; dropped: Record<string, string[]> }> {
  const c = await repos.collections.get(batch.collection_id);
  const extra = parseExtraMetadata(c.extra_metadata);
  const rows = await repos.uploadBatches.ledger(batch.id);
  const live = rows.filter((r) => r.state !== 'retracted' && r.image.state !== 'retracted').map((r) => ({ ...r.image, external_id: r.externalId }));
  const notLive = live.filter((r) => (r.state !== 'published' && r.state !== 'uploaded') || !r.public_key || !r.public_sha256);
  if (notLive.length) {
    throw new ConflictError(`upload batch ${batch.seq}: ${notLive.length} image(s) are not published (e.g. ${notLive[0].id} is ${notLive[0].state})`, { imageIds: notLive.slice(0, 10).map((r) => r.id) });
  }
  if (live.length > MAX_IMPORT_ROWS) throw new ValidationError(`upload batch ${batch.seq} has ${live.length} subjects; a manifest holds at most ${MAX_IMPORT_ROWS}`);
  const datasets = await repos.images.datasetIds(live.map((r) => r.id));
  const frames = await repos.images.framesByImage(live.map((r) => r.id));
  const unpublished = [...frames.values()].flat().find((f) => !f.public_key);
  if (unpublished) throw new ConflictError(`upload batch ${batch.seq}: frame ${unpublished.band} of image ${unpublished.image_id} is not published`, { imageIds: [unpublished.image_id] });
  const dropped: Record<string, string[]> = {};
  const subjects = live.map((r): ManifestSubject => {
    const m = subjectMetadata({ collection: c, image: r, datasetIds: datasets.get(r.id) ?? [], contentHash: r.public_sha256!, uploadBatchSeq: batch.seq }, extra);
    if (m.dropped.length) dropped[r.id] = m.dropped;
    const locations = [{ [contentTypeOfKey(r.public_key!)]: url(r.public_key!) }, ...(frames.get(r.id) ?? []).map((f) => ({ [contentTypeOfKey(f.public_key!)]: url(f.public_key!) }))];
    return { external_id: r.external_id, locations, metadata: m.metadata };
  });
  return { subjects, dropped };
}

/**
 * Writes both manifests of a batch to the public store and marks the batch
 * manifested (with a `batch_published` event, once: its images and manifests are public). Safe to run again: the
 * same ledger gives the same files. A batch already uploading or beyond is
 * left as it is. `publicBaseUrl` replaces the store's own public URLs (a CDN
 * in front of the bucket): location = `${publicBaseUrl}/${key}`.
 */
export async function writeManifests(d: { repos: Repositories; store: ObjectStore }, uploadBatchId: string, publicBaseUrl?: string): Promise<ManifestResult> {
  const batch = await d.repos.uploadBatches.find(uploadBatchId);
  if (!batch) throw new NotFoundError(`upload batch ${uploadBatchId} not found`);
  const url = (key: string) => (publicBaseUrl ? joinUrl(publicBaseUrl, key) : d.store.publicUrl(key));
  const keys = manifestKeys(batch.collection_id, batch.seq);
  const base = { batchId: batch.id, seq: batch.seq, csvKey: keys.csv, jsonKey: keys.json, csvUrl: url(keys.csv), jsonUrl: url(keys.json) };
  if (batch.state !== 'publishing' && batch.state !== 'manifested') return { ...base, total: batch.total, unchanged: true, dropped: {} };

  const { subjects, dropped } = await batchSubjects(d.repos, batch, url);
  const enc = new TextEncoder();
  await putPublicManifest(d.store, keys.csv, enc.encode(manifestCsv(subjects)), 'text/csv; charset=utf-8');
  await putPublicManifest(d.store, keys.json, enc.encode(JSON.stringify(subjects, null, 1) + '\n'), 'application/json');

  const record = { csvKey: keys.csv, jsonKey: keys.json, total: subjects.length };
  await d.repos.transaction(async (tx) => {
    if (await tx.uploadBatches.markManifested(batch.id, record)) {
      await tx.events.record(batch.collection_id, 'batch_published', { uploadBatchId: batch.id, seq: batch.seq, total: subjects.length, manifestCsvUrl: base.csvUrl, manifestJsonUrl: base.jsonUrl });
    } else {
      // Re-manifested (e.g. after a retraction): keep the count in step with the files.
      await tx.uploadBatches.updateManifest(batch.id, record);
    }
  });
  return { ...base, total: subjects.length, unchanged: false, dropped };
}
