import type { Artifact, Collection } from './model.js';
import type { PipelineDeps } from './pipeline.js';
import { AppError } from './errors.js';
import { describeDataset, failedDataset, recordArtifactFailure } from './dataset-failure.js';
import { quarantineWriter, recordImages, type ImageGroup } from './quarantine-writer.js';
import { convertBands as convertBandSet, openBand, type BandSource } from '../imaging/convert-bands.js';
import { convertZipBytes } from '../imaging/convert-zip.js';
import { sharedBytes } from '../imaging/shared-bytes.js';
import { observationTime, primaryHeaderOf } from '../imaging/fits/observation-time.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../imaging/convert.js';
import type { ColourOptions } from '../imaging/colour/presets.js';

/**
 * Converting what one group of datasets holds into quarantined images: the
 * bands of a FITS cutout set, or a ZIP of renderings. Failures are told in
 * a person's terms: each message names the dataset and its file in the
 * Butler, never the name the converter saw, and when a group cannot convert
 * each of its files is examined on its own, so a second bad file is not
 * hidden behind the first.
 */

/** Input that can never convert: the job must not retry, and the PI must see why. */
export class UnprocessableInputError extends AppError {
  readonly code = 'unprocessable_input';
}

type Channel = BandSource & { bytes: Uint8Array; name: string; artifact: Artifact };

/** The file as the PI knows it (its path in the Butler's datastore), or the dataset when there is no path yet. */
function fileOf(a: Artifact): string {
  return a.path ?? describeDataset(a);
}

/** Puts each converter name back to the file the PI knows. */
function readable(msg: string, channels: { name: string; artifact: Artifact }[]): string {
  let out = msg;
  for (const ch of channels) out = out.replaceAll(ch.name, fileOf(ch.artifact));
  return out;
}

export async function convertBandGroup(d: PipelineDeps, c: Collection, groupKey: string, arts: Artifact[], actor: string): Promise<{ images: number; failedStamps: number }> {
  const byBand = new Map(arts.map((a) => [a.band ?? '', a]));
  const used = (c.rgb ?? []).map((band) => ({ band, artifact: byBand.get(band)! }));
  // The converter's names stay neutral (band and content hash): they are
  // written into each PNG's provenance, which may become public.
  // Read straight into the memory the conversion threads share.
  const channels: Channel[] = await Promise.all(
    used.map(async ({ band, artifact: a }) => ({
      band,
      artifact: a,
      bytes: (await d.store.get('quarantine', a.object_key!, { alloc: sharedBytes })).body,
      name: `${band}-${a.sha256}.fits`,
    })),
  );
  const opts: ConvertOptions = { ...DEFAULT_CONVERT_OPTIONS, colour: c.colour as unknown as ColourOptions, frames: c.subject_frames };
  const out = quarantineWriter(d.store, c.id);
  let result;
  try {
    result = await convertBandSet({
      channels: channels.map(({ band, bytes, name }) => ({ band, bytes, name })),
      opts,
      // The process's pool when it has one (the service), so groups converted at once share its threads.
      pool: d.convertPool,
      workers: Math.max(1, d.convertThreads),
      onStamp: (s) => out.add({ record: s.record, bytes: s.png, jpeg: false, frames: s.frames }),
    });
  } catch (e) {
    // A failed write is the store's trouble: the job retries, the artifacts stay as they are.
    if (out.failure !== undefined) throw out.failure;
    throw await failGroup(d, c, groupKey, channels, (e as Error).message, actor);
  }
  const stored = await out.flush();
  // Warnings (trailing bytes ignored, stamps missing) go with the file they are about, into its conversion's audit entry.
  const notes = new Map<string, string[]>();
  for (const w of result.warnings) {
    const text = readable(w, channels);
    d.log.warn({ collectionId: c.id, groupKey }, text);
    for (const ch of channels.filter((x) => w.includes(x.name))) notes.set(ch.artifact.id, [...(notes.get(ch.artifact.id) ?? []), text]);
  }
  // Bands may be observed at different times; the embargo protects the
  // newest data, so the latest observation of the group counts.
  const times = channels.map((ch) => observationTimeOf(ch.bytes)).filter((t): t is string => t !== null);
  const observedAt = times.length ? times.sort().at(-1)! : null;
  const group: ImageGroup = { groupKey, bands: c.rgb ?? [], colour: c.colour, observedAt, datasets: used.map(({ artifact }, i) => ({ artifact, position: i + 1 })) };
  const failed = result.failed.map((f) => ({ index: f.index, error: readable(f.error, channels) }));
  const images = await recordImages(d.repos, c, group, stored, failed, arts, actor, notes);
  return { images, failedStamps: result.failed.length };
}

/**
 * The whole group cannot convert (a file that does not open, frames that
 * cannot be made; stamps missing from a band only fail those stamps). Each
 * file is opened and read on its own: the bad ones get their own reason, the
 * good ones say which of their group's files held them back. When every
 * file reads by itself the trouble is between them, and all get the group's
 * message. One `group_failed` event lists them all, in the transaction that
 * records them.
 */
async function failGroup(d: PipelineDeps, c: Collection, groupKey: string, channels: Channel[], groupMessage: string, actor: string): Promise<UnprocessableInputError> {
  const own = new Map<Channel, string>();
  for (const ch of channels) {
    const problem = await fileProblem(ch);
    if (problem) own.set(ch, readable(problem, channels));
  }
  const bad = channels.filter((ch) => own.has(ch));
  const blame = bad.map((ch) => `band ${ch.band} (${fileOf(ch.artifact)})`).join(' and ');
  const reasons = channels.map((ch) => own.get(ch) ?? (bad.length ? `not converted: ${blame} of this group could not be read` : readable(groupMessage, channels)));
  await d.repos.transaction(async (tx) => {
    for (const [i, ch] of channels.entries()) await tx.artifacts.markFailed(ch.artifact, reasons[i], actor);
    await tx.events.record(c.id, 'group_failed', { groupKey, datasets: channels.map((ch, i) => failedDataset(ch.artifact, reasons[i])) });
  });
  const summary = bad.length ? bad.map((ch) => own.get(ch)!).join('; ') : readable(groupMessage, channels);
  return new UnprocessableInputError(summary);
}

/** What is wrong with one band's file on its own: it does not open, or some of its stamps cannot be read. Undefined when it reads whole. */
async function fileProblem(ch: Channel): Promise<string | undefined> {
  let f;
  try {
    f = await openBand({ band: ch.band, bytes: ch.bytes, name: ch.name });
  } catch (e) {
    return (e as Error).message;
  }
  try {
    const bad: { index: number; message: string }[] = [];
    for (let i = 0; i < f.count; i++) {
      try {
        f.release(await f.read(i));
      } catch (e) {
        bad.push({ index: i, message: (e as Error).message });
      }
    }
    if (!bad.length) return undefined;
    const first = bad[0];
    return `${ch.name}: ${bad.length} of ${f.count} stamps cannot be read (stamp ${first.index + 1}: ${first.message.replace(`${ch.name}, `, '').replace(`${ch.name}: `, '')})`;
  } finally {
    await f.close();
  }
}

function observationTimeOf(fits: Uint8Array): string | null {
  try {
    const h = primaryHeaderOf(fits);
    return h ? observationTime(h) : null;
  } catch {
    return null;
  }
}

/**
 * A ZIP of PNG/JPEG renderings (the Butler formatter of DMTN-207, or a PI's
 * own zip): already colour images, so they pass through with provenance and
 * no sky position. Each archive is its own image group, so two archives with
 * the same dataId cannot collide on stamp numbers.
 */
export async function convertZipArtifact(d: PipelineDeps, c: Collection, a: Artifact, actor: string): Promise<{ images: number; failedStamps: number }> {
  const name = `${a.sha256}.zip`;
  const bytes = (await d.store.get('quarantine', a.object_key!)).body;
  const out = quarantineWriter(d.store, c.id);
  const named = (msg: string) => msg.replaceAll(name, fileOf(a));
  let result;
  try {
    const limits = { maxSide: DEFAULT_CONVERT_OPTIONS.maxSide, level: DEFAULT_CONVERT_OPTIONS.level, maxBytes: DEFAULT_CONVERT_OPTIONS.maxBytes };
    result = await convertZipBytes(bytes, name, limits, (img) => out.add({ record: img.record, bytes: img.bytes, jpeg: img.ext === 'jpg' }));
  } catch (e) {
    if (out.failure !== undefined) throw out.failure;
    throw await failArchive(d, a, named((e as Error).message), actor);
  }
  const stored = await out.flush();
  if (result.total === 0) {
    const reason = `${fileOf(a)}: the archive holds no PNG or JPEG images${result.warnings.length ? ` (${result.warnings.length} ${result.warnings.length === 1 ? 'entry' : 'entries'} skipped)` : ''}`;
    throw await failArchive(d, a, reason, actor);
  }
  for (const w of result.warnings) d.log.warn({ artifactId: a.id }, named(w));
  // The key keeps archives of one dataId apart; the dataset itself is recorded as the image's link.
  const group: ImageGroup = { groupKey: `${a.group_key}#zip:${a.dataset_id}`, bands: a.band ? [a.band] : [], colour: { preset: 'as-rendered' }, datasets: [{ artifact: a, position: 1 }] };
  const failed = result.failed.map((f) => ({ index: f.index, error: named(f.error) }));
  const images = await recordImages(d.repos, c, group, stored, failed, [a], actor);
  return { images, failedStamps: result.failed.length };
}

async function failArchive(d: PipelineDeps, a: Artifact, reason: string, actor: string): Promise<UnprocessableInputError> {
  await recordArtifactFailure(d.repos, a, reason, actor);
  return new UnprocessableInputError(reason);
}
