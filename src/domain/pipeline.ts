import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/database.js';
import type { Artifact, Collection } from '../db/schema.js';
import { getCollection, findCollection, recordPoll } from '../db/repositories/collections.js';
import { findArtifact, groupArtifacts, insertDiscovered, markFailed, markRetrieved } from '../db/repositories/artifacts.js';
import { insertImages, type NewImage } from '../db/repositories/images.js';
import { insertFrames } from '../db/repositories/frames.js';
import { assignBatch, createBatch } from '../db/repositories/batches.js';
import { transition } from '../db/repositories/transitions.js';
import type { ButlerSource, DatasetRef, Logger, ObjectStore } from './ports.js';
import { AppError } from './errors.js';
import { convertSet, type StampLine } from '../imaging/convert-set.js';
import { convertZip } from '../imaging/convert-zip.js';
import { observationTime, readPrimaryHeader } from '../imaging/fits/observation-time.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../imaging/convert.js';
import type { ColourOptions } from '../imaging/colour/presets.js';

/**
 * The pipeline up to quarantine, as plain functions over ports: poll a
 * collection, retrieve one artifact, convert one band group. Each is
 * idempotent (safe to run twice, or after a crash half-way) and says what
 * should happen next; the job layer turns that into queued work.
 */
export interface PipelineDeps {
  db: Db;
  store: ObjectStore;
  sources: (c: Collection) => ButlerSource;
  /** Worker threads per conversion (>= 1 keeps CPU work off the job's event loop). */
  convertThreads: number;
  tmpDir: string;
  log: Logger;
}

/** Input that can never convert: the job must not retry, and the PI must see why. */
export class UnprocessableInputError extends AppError {
  readonly code = 'unprocessable_input';
}

const POLL_BATCH = 500;
/** Parallel object writes per group: enough to hide S3 latency, few enough to be polite. */
const STORE_CONCURRENCY = 8;

async function mapLimit<T, R>(items: T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export async function pollCollection(d: PipelineDeps, collectionId: string, actor = 'poller'): Promise<{ newArtifactIds: string[] }> {
  const c = await findCollection(d.db, collectionId);
  if (!c || c.status !== 'active') return { newArtifactIds: [] };
  const source = d.sources(c);
  const fresh: string[] = [];
  let batch: DatasetRef[] = [];
  // One review batch per poll that found something.
  let batchId: string | undefined;
  // Each batch and the cursor after it commit together, so a crash mid-poll
  // resumes after the last committed batch and never skips a dataset.
  const flush = async () => {
    if (!batch.length) return;
    const refs = batch;
    batch = [];
    await d.db.transaction().execute(async (tx) => {
      const rows = await insertDiscovered(tx, c.id, refs, actor);
      if (rows.length) {
        batchId ??= (await createBatch(tx, c.id)).id;
        await assignBatch(tx, batchId, rows.map((r) => r.id));
      }
      fresh.push(...rows.map((r) => r.id));
      await recordPoll(tx, c.id, { cursor: maxCursor(c.cursor, refs) });
    });
  };
  try {
    for await (const ref of source.listDatasets({ repository: c.repository, collection: c.name, datasetType: c.dataset_type, after: c.cursor ?? undefined })) {
      batch.push(ref);
      if (batch.length >= POLL_BATCH) await flush();
    }
    await flush();
    await recordPoll(d.db, c.id, {});
  } catch (e) {
    await recordPoll(d.db, c.id, { error: (e as Error).message });
    throw e;
  }
  if (fresh.length) d.log.info({ collectionId, newArtifacts: fresh.length }, 'poll found new datasets');
  return { newArtifactIds: fresh };
}

function maxCursor(current: string | null, refs: DatasetRef[]): string | null {
  let best = current;
  for (const r of refs) if (best === null || r.cursor > best) best = r.cursor;
  return best;
}

function requiredBands(c: Collection): string[] {
  return [...new Set(c.rgb ?? [])];
}

/** A group has work once an archive is retrieved, or every band it needs is. */
async function groupReadiness(d: PipelineDeps, c: Collection, groupKey: string): Promise<boolean> {
  const arts = await groupArtifacts(d.db, c.id, groupKey);
  return arts.some((a) => isZipArtifact(a) && a.state === 'retrieved') || bandsReady(c, arts);
}

function bandsReady(c: Collection, arts: Artifact[]): boolean {
  const have = new Map(arts.filter((a) => !isZipArtifact(a)).map((a) => [a.band ?? '', a.state]));
  const need = requiredBands(c);
  return need.every((b) => have.get(b) === 'retrieved' || have.get(b) === 'converted') && need.some((b) => have.get(b) === 'retrieved');
}

export async function retrieveArtifact(d: PipelineDeps, artifactId: string, actor = 'retriever'): Promise<{ readyGroup?: { collectionId: string; groupKey: string } }> {
  const a = await findArtifact(d.db, artifactId);
  if (!a) return {};
  const c = await getCollection(d.db, a.collection_id);
  if (a.state === 'discovered') {
    const ref: DatasetRef = { id: a.dataset_id, datasetType: a.dataset_type, run: a.run, dataId: a.data_id, cursor: a.cursor };
    const art = await d.sources(c).fetchArtifact(c.repository, ref);
    const ext = art.path.toLowerCase().endsWith('.zip') ? '.zip' : '.fits';
    const key = `artifacts/${c.id}/${art.sha256}${ext}`;
    await d.store.put('quarantine', key, art.bytes, { contentType: ext === '.zip' ? 'application/zip' : 'application/fits' });
    await markRetrieved(d.db, a, { path: art.path, size: art.size, sha256: art.sha256, objectKey: key }, actor);
  } else if (a.state !== 'retrieved') {
    return {};
  }
  return (await groupReadiness(d, c, a.group_key)) ? { readyGroup: { collectionId: c.id, groupKey: a.group_key } } : {};
}

export async function failArtifact(d: PipelineDeps, artifactId: string, reason: string, actor: string): Promise<void> {
  const a = await findArtifact(d.db, artifactId);
  if (a) await markFailed(d.db, a, reason, actor);
}

export async function convertGroup(d: PipelineDeps, collectionId: string, groupKey: string, actor = 'converter'): Promise<{ images: number; failedStamps: number }> {
  const c = await getCollection(d.db, collectionId);
  const all = await groupArtifacts(d.db, c.id, groupKey);
  const arts = all.filter((a) => a.state === 'retrieved');
  const total = { images: 0, failedStamps: 0 };
  const add = (r: { images: number; failedStamps: number }) => {
    total.images += r.images;
    total.failedStamps += r.failedStamps;
  };
  // A ZIP of renderings is complete in itself; FITS bands wait for each other.
  for (const z of arts.filter(isZipArtifact)) add(await convertZipArtifact(d, c, z, actor));
  const bands = arts.filter((a) => !isZipArtifact(a));
  if (bands.length && bandsReady(c, all)) add(await convertBands(d, c, groupKey, bands, actor));
  return total;
}

async function observationTimeOf(path: string): Promise<string | null> {
  const h = await readPrimaryHeader(path).catch(() => null);
  return h ? observationTime(h) : null;
}

function isZipArtifact(a: Artifact): boolean {
  return !!a.object_key?.endsWith('.zip');
}

async function convertBands(d: PipelineDeps, c: Collection, groupKey: string, arts: Artifact[], actor: string): Promise<{ images: number; failedStamps: number }> {
  const tmp = await mkdtemp(join(d.tmpDir, 'convert-'));
  try {
    const byBand = new Map(arts.map((a) => [a.band ?? '', a]));
    const channels = [];
    for (const band of c.rgb ?? []) {
      const a = byBand.get(band)!;
      const path = join(tmp, `${band}-${a.sha256}.fits`);
      const { body } = await d.store.get('quarantine', a.object_key!);
      await writeFile(path, body);
      channels.push({ band, path, artifactId: a.id });
    }
    const out = join(tmp, 'out');
    const opts: ConvertOptions = { ...DEFAULT_CONVERT_OPTIONS, colour: c.colour as unknown as ColourOptions, frames: c.subject_frames };
    let result;
    try {
      result = await convertSet({ channels: channels.map(({ band, path }) => ({ band, path })), outDir: out, opts, workers: Math.max(1, d.convertThreads) });
    } catch (e) {
      // The whole group cannot convert (unreadable file, bands that disagree):
      // name the artifact when the message names its file.
      const msg = (e as Error).message;
      const culprit = channels.find((ch) => msg.includes(ch.path));
      for (const ch of channels) {
        const a = byBand.get(ch.band)!;
        const reason = culprit && culprit !== ch ? `not converted: band ${culprit.band} of this group failed` : msg.replaceAll(tmp + '/', '');
        await markFailed(d.db, a, reason, actor);
      }
      throw new UnprocessableInputError(msg.replaceAll(tmp + '/', ''));
    }
    // Bands may be observed at different times; the embargo protects the
    // newest data, so the latest observation of the group counts.
    const times = (await Promise.all(channels.map(async (ch) => observationTimeOf(ch.path)))).filter((t): t is string => t !== null);
    const observedAt = times.length ? times.sort().at(-1)! : null;
    return await recordImages(d, c, { groupKey, bands: c.rgb ?? [], colour: c.colour, observedAt }, out, result.failed, tmp, arts, actor);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A ZIP of PNG/JPEG renderings (the Butler formatter of DMTN-207, or a PI's
 * own zip): already colour images, so they pass through with provenance and
 * no sky position. Each archive is its own image group, so two archives with
 * the same dataId cannot collide on stamp numbers.
 */
async function convertZipArtifact(d: PipelineDeps, c: Collection, a: Artifact, actor: string): Promise<{ images: number; failedStamps: number }> {
  const tmp = await mkdtemp(join(d.tmpDir, 'convert-zip-'));
  try {
    const path = join(tmp, `${a.sha256}.zip`);
    await writeFile(path, (await d.store.get('quarantine', a.object_key!)).body);
    const out = join(tmp, 'out');
    let result;
    try {
      result = await convertZip(path, out, { maxSide: DEFAULT_CONVERT_OPTIONS.maxSide, level: DEFAULT_CONVERT_OPTIONS.level, maxBytes: DEFAULT_CONVERT_OPTIONS.maxBytes });
    } catch (e) {
      const reason = (e as Error).message.replaceAll(path, a.path ?? 'archive').replaceAll(tmp + '/', '');
      await markFailed(d.db, a, reason, actor);
      throw new UnprocessableInputError(reason);
    }
    if (result.total === 0) {
      const reason = `the archive holds no PNG or JPEG images${result.warnings.length ? ` (${result.warnings.length} ${result.warnings.length === 1 ? 'entry' : 'entries'} skipped)` : ''}`;
      await markFailed(d.db, a, reason, actor);
      throw new UnprocessableInputError(reason);
    }
    for (const w of result.warnings) d.log.warn({ artifactId: a.id }, w.replaceAll(path, a.path ?? 'archive'));
    return await recordImages(d, c, { groupKey: `${a.group_key}#zip:${a.dataset_id}`, bands: a.band ? [a.band] : [], colour: { preset: 'as-rendered' } }, out, result.failed, tmp, [a], actor);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Stores a conversion's outputs in quarantine and records them: the images
 * (and failed stamps) and the artifacts' move to 'converted' commit together.
 */
async function recordImages(
  d: PipelineDeps,
  c: Collection,
  g: { groupKey: string; bands: string[]; colour: Record<string, unknown>; observedAt?: string | null },
  out: string,
  failed: { index: number; error: string }[],
  tmp: string,
  arts: Artifact[],
  actor: string,
): Promise<{ images: number; failedStamps: number }> {
  const lines: StampLine[] = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // Bands of one group can arrive in different polls: the group belongs to the batch that completed it.
  const latest = [...arts].sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime()).at(-1);
  const base = { collectionId: c.id, groupKey: g.groupKey, bands: g.bands, colour: g.colour, batchId: latest?.batch_id ?? null, observedAt: g.observedAt ?? null };
  // Objects are content-addressed, so writing them before the rows commit is
  // safe: a crash leaves at most an object that the retry writes again.
  const store = async (file: string) => {
    const bytes = await readFile(join(out, file));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const jpeg = file.endsWith('.jpg');
    const key = `images/${c.id}/${sha256}.${jpeg ? 'jpg' : 'png'}`;
    await d.store.put('quarantine', key, bytes, { contentType: jpeg ? 'image/jpeg' : 'image/png' });
    return { sha256, key, bytes: bytes.length };
  };
  const frames = new Map<number, { band: string; position: number; sha256: string; key: string; bytes: number }[]>();
  const rows: NewImage[] = await mapLimit(lines, STORE_CONCURRENCY, async (l) => {
    const img = await store(l.file);
    if (l.frames?.length) frames.set(l.index, await Promise.all(l.frames.map(async (f, i) => ({ band: f.band, position: i + 1, ...(await store(f.file)) }))));
    return { ...base, stampIndex: l.index, state: 'quarantined' as const, ra: l.ra, dec: l.dec, wcsQuality: l.wcs, width: l.width, height: l.height, bytes: l.bytes, sha256: img.sha256, quarantineKey: img.key, error: null };
  });
  for (const f of failed) {
    rows.push({ ...base, stampIndex: f.index, state: 'failed', ra: null, dec: null, wcsQuality: 'none', width: 0, height: 0, bytes: 0, sha256: '', quarantineKey: '', error: f.error.replaceAll(tmp + '/', '') });
  }
  const images = await d.db.transaction().execute(async (tx) => {
    const inserted = await insertImages(tx, rows, actor);
    // Only images inserted now get frames: a re-run finds both already committed together.
    const frameRows = inserted.flatMap((img) => (frames.get(img.stamp_index) ?? []).map((f) => ({ image_id: img.id, band: f.band, position: f.position, quarantine_key: f.key, sha256: f.sha256, bytes: f.bytes })));
    await insertFrames(tx, frameRows);
    for (const a of arts) await transition(tx, 'artifact', a.id, 'retrieved', 'converted', actor);
    return inserted.filter((r) => r.state === 'quarantined').length;
  });
  return { images, failedStamps: failed.length };
}
