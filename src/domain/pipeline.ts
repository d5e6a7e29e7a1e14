import type { Artifact, Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ButlerSource, DatasetRef } from './ports/butler-source.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import { AppError } from './errors.js';
import { quarantineWriter, recordImages, type ImageGroup } from './quarantine-writer.js';
import { convertBands as convertBandSet, type BandSource } from '../imaging/convert-bands.js';
import { convertZipBytes } from '../imaging/convert-zip.js';
import { observationTime, primaryHeaderOf } from '../imaging/fits/observation-time.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../imaging/convert.js';
import type { ColourOptions } from '../imaging/colour/presets.js';

/**
 * The pipeline up to quarantine, as plain functions over ports: poll a
 * collection, retrieve one artifact, convert one band group. Each is
 * idempotent (safe to run twice, or after a crash half-way) and says what
 * should happen next; the job layer turns that into queued work.
 *
 * Conversion touches no disk: the artifacts' bytes come from the object
 * store, the converter reads them in memory (worker threads share one copy),
 * and each PNG goes back to the store as soon as it is made.
 */
export interface PipelineDeps {
  repos: Repositories;
  store: ObjectStore;
  sources: (c: Collection) => ButlerSource;
  /** Worker threads per conversion (>= 1 keeps CPU work off the job's event loop). */
  convertThreads: number;
  log: Logger;
}

/** Input that can never convert: the job must not retry, and the PI must see why. */
export class UnprocessableInputError extends AppError {
  readonly code = 'unprocessable_input';
}

const POLL_BATCH = 500;

export async function pollCollection(d: PipelineDeps, collectionId: string, actor = 'poller'): Promise<{ newArtifactIds: string[] }> {
  const c = await d.repos.collections.find(collectionId);
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
    await d.repos.transaction(async (tx) => {
      const rows = await tx.artifacts.insertDiscovered(c.id, refs, actor);
      if (rows.length) {
        batchId ??= (await tx.batches.create(c.id)).id;
        await tx.artifacts.assignBatch(batchId, rows.map((r) => r.id));
      }
      fresh.push(...rows.map((r) => r.id));
      await tx.collections.recordPoll(c.id, { cursor: maxCursor(c.cursor, refs) });
    });
  };
  // A chained collection can reach runs that are not the PI's: only the
  // registered run and runs below it are theirs to publish.
  const outside: DatasetRef[] = [];
  try {
    for await (const ref of source.listDatasets({ repository: c.repository, collection: c.name, datasetType: c.dataset_type, after: c.cursor ?? undefined })) {
      if (!inRegisteredRun(ref.run, c.name)) {
        outside.push(ref);
        continue;
      }
      batch.push(ref);
      if (batch.length >= POLL_BATCH) await flush();
    }
    await flush();
    if (outside.length) d.log.warn({ collectionId, refused: outside.length }, 'poll refused datasets outside the registered run');
    await d.repos.collections.recordPoll(c.id, { error: outside.length ? outsideMessage(c.name, outside) : null });
  } catch (e) {
    await d.repos.collections.recordPoll(c.id, { error: (e as Error).message });
    throw e;
  }
  if (fresh.length) d.log.info({ collectionId, newArtifacts: fresh.length }, 'poll found new datasets');
  return { newArtifactIds: fresh };
}

/** The registered run itself, or a run below it (`u/alien/x/2026-12`), never a sibling that merely shares the prefix (`u/alien/xyz`). */
export function inRegisteredRun(run: string, collection: string): boolean {
  return run === collection || run.startsWith(`${collection}/`);
}

function outsideMessage(collection: string, refs: DatasetRef[]): string {
  const shown = refs.slice(0, 3).map((r) => `${r.id} (run ${r.run})`).join(', ');
  return `refused ${refs.length} dataset(s) outside the registered run ${collection}: ${shown}${refs.length > 3 ? ', ...' : ''}; only ${collection} and runs below it are published`;
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
  const arts = await d.repos.artifacts.group(c.id, groupKey);
  return arts.some((a) => isZipArtifact(a) && a.state === 'retrieved') || bandsReady(c, arts);
}

function bandsReady(c: Collection, arts: Artifact[]): boolean {
  const have = new Map(arts.filter((a) => !isZipArtifact(a)).map((a) => [a.band ?? '', a.state]));
  const need = requiredBands(c);
  return need.every((b) => have.get(b) === 'retrieved' || have.get(b) === 'converted') && need.some((b) => have.get(b) === 'retrieved');
}

export async function retrieveArtifact(d: PipelineDeps, artifactId: string, actor = 'retriever'): Promise<{ readyGroup?: { collectionId: string; groupKey: string } }> {
  const a = await d.repos.artifacts.find(artifactId);
  if (!a) return {};
  const c = await d.repos.collections.get(a.collection_id);
  if (a.state === 'discovered') {
    const ref: DatasetRef = { id: a.dataset_id, datasetType: a.dataset_type, run: a.run, dataId: a.data_id, cursor: a.cursor };
    const art = await d.sources(c).fetchArtifact(c.repository, ref);
    const ext = art.path.toLowerCase().endsWith('.zip') ? '.zip' : '.fits';
    const key = `artifacts/${c.id}/${art.sha256}${ext}`;
    await d.store.put('quarantine', key, art.bytes, { contentType: ext === '.zip' ? 'application/zip' : 'application/fits' });
    await d.repos.artifacts.markRetrieved(a, { path: art.path, size: art.size, sha256: art.sha256, objectKey: key }, actor);
  } else if (a.state !== 'retrieved') {
    return {};
  }
  return (await groupReadiness(d, c, a.group_key)) ? { readyGroup: { collectionId: c.id, groupKey: a.group_key } } : {};
}

export async function failArtifact(d: PipelineDeps, artifactId: string, reason: string, actor: string): Promise<void> {
  const a = await d.repos.artifacts.find(artifactId);
  if (a) await d.repos.artifacts.markFailed(a, reason, actor);
}

export async function convertGroup(d: PipelineDeps, collectionId: string, groupKey: string, actor = 'converter'): Promise<{ images: number; failedStamps: number }> {
  const c = await d.repos.collections.get(collectionId);
  const all = await d.repos.artifacts.group(c.id, groupKey);
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

function isZipArtifact(a: Artifact): boolean {
  return !!a.object_key?.endsWith('.zip');
}

function observationTimeOf(fits: Uint8Array): string | null {
  try {
    const h = primaryHeaderOf(fits);
    return h ? observationTime(h) : null;
  } catch {
    return null;
  }
}

async function convertBands(d: PipelineDeps, c: Collection, groupKey: string, arts: Artifact[], actor: string): Promise<{ images: number; failedStamps: number }> {
  const byBand = new Map(arts.map((a) => [a.band ?? '', a]));
  const used = (c.rgb ?? []).map((band) => ({ band, artifact: byBand.get(band)! }));
  // Named as the files used to be, so messages and provenance read the same.
  const channels: (BandSource & { bytes: Uint8Array; name: string })[] = await Promise.all(
    used.map(async ({ band, artifact: a }) => ({ band, bytes: (await d.store.get('quarantine', a.object_key!)).body, name: `${band}-${a.sha256}.fits` })),
  );
  const opts: ConvertOptions = { ...DEFAULT_CONVERT_OPTIONS, colour: c.colour as unknown as ColourOptions, frames: c.subject_frames };
  const out = quarantineWriter(d.store, c.id);
  let result;
  try {
    result = await convertBandSet({
      channels,
      opts,
      workers: Math.max(1, d.convertThreads),
      onStamp: (s) => out.add({ record: s.record, bytes: s.png, jpeg: false, frames: s.frames }),
    });
  } catch (e) {
    // A failed write is the store's trouble: the job retries, the artifacts stay as they are.
    if (out.failure !== undefined) throw out.failure;
    // The whole group cannot convert (unreadable file, bands that disagree):
    // name the artifact when the message names its file.
    const msg = (e as Error).message;
    const culprit = channels.find((ch) => msg.includes(ch.name));
    for (const ch of channels) {
      const reason = culprit && culprit !== ch ? `not converted: band ${culprit.band} of this group failed` : msg;
      await d.repos.artifacts.markFailed(byBand.get(ch.band)!, reason, actor);
    }
    throw new UnprocessableInputError(msg);
  }
  const stored = await out.flush();
  // Bands may be observed at different times; the embargo protects the
  // newest data, so the latest observation of the group counts.
  const times = channels.map((ch) => observationTimeOf(ch.bytes)).filter((t): t is string => t !== null);
  const observedAt = times.length ? times.sort().at(-1)! : null;
  const group: ImageGroup = { groupKey, bands: c.rgb ?? [], colour: c.colour, observedAt, datasets: used.map(({ artifact }, i) => ({ artifact, position: i + 1 })) };
  const images = await recordImages(d.repos, c, group, stored, result.failed, arts, actor);
  return { images, failedStamps: result.failed.length };
}

/**
 * A ZIP of PNG/JPEG renderings (the Butler formatter of DMTN-207, or a PI's
 * own zip): already colour images, so they pass through with provenance and
 * no sky position. Each archive is its own image group, so two archives with
 * the same dataId cannot collide on stamp numbers.
 */
async function convertZipArtifact(d: PipelineDeps, c: Collection, a: Artifact, actor: string): Promise<{ images: number; failedStamps: number }> {
  const name = `${a.sha256}.zip`;
  const bytes = (await d.store.get('quarantine', a.object_key!)).body;
  const out = quarantineWriter(d.store, c.id);
  let result;
  try {
    const limits = { maxSide: DEFAULT_CONVERT_OPTIONS.maxSide, level: DEFAULT_CONVERT_OPTIONS.level, maxBytes: DEFAULT_CONVERT_OPTIONS.maxBytes };
    result = await convertZipBytes(bytes, name, limits, (img) => out.add({ record: img.record, bytes: img.bytes, jpeg: img.ext === 'jpg' }));
  } catch (e) {
    if (out.failure !== undefined) throw out.failure;
    const reason = (e as Error).message.replaceAll(name, a.path ?? 'archive');
    await d.repos.artifacts.markFailed(a, reason, actor);
    throw new UnprocessableInputError(reason);
  }
  const stored = await out.flush();
  if (result.total === 0) {
    const reason = `the archive holds no PNG or JPEG images${result.warnings.length ? ` (${result.warnings.length} ${result.warnings.length === 1 ? 'entry' : 'entries'} skipped)` : ''}`;
    await d.repos.artifacts.markFailed(a, reason, actor);
    throw new UnprocessableInputError(reason);
  }
  for (const w of result.warnings) d.log.warn({ artifactId: a.id }, w.replaceAll(name, a.path ?? 'archive'));
  // The key keeps archives of one dataId apart; the dataset itself is recorded as the image's link.
  const group: ImageGroup = { groupKey: `${a.group_key}#zip:${a.dataset_id}`, bands: a.band ? [a.band] : [], colour: { preset: 'as-rendered' }, datasets: [{ artifact: a, position: 1 }] };
  const images = await recordImages(d.repos, c, group, stored, result.failed, [a], actor);
  return { images, failedStamps: result.failed.length };
}
