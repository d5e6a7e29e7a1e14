import { availableParallelism } from 'node:os';
import { FitsCutouts } from './cutouts/fits-cutouts.js';
import { convertStamp, planStamps, type ChannelSource, type ConvertOptions, type StampFrame, type StampRecord } from './convert.js';
import { ImagingError } from './types.js';
import { ConvertPool } from './convert-pool.js';
import type { StampOutcome, StampPool } from './convert-pool-port.js';

/**
 * The conversion of a band set, with no files of its own: bands come as
 * paths or as bytes already in memory, and each converted stamp goes to the
 * caller's `onStamp` as PNG bytes. convert-set.ts writes them to a directory
 * (the CLI); the pipeline puts them straight into the object store.
 */

/** One band: a FITS file on disk, or its bytes with a name standing for the file in messages and provenance. */
export type BandSource = { band: string; path: string } | { band: string; bytes: Uint8Array; name: string };

export interface ConvertedStamp {
  index: number;
  png: Uint8Array;
  record: StampRecord;
  /** Only when frames were asked for and the set has two or more bands, in channel order. */
  frames?: StampFrame[];
}

export interface ConvertBandsJob {
  /** In channel order: R, G, B (or a single band for grey). */
  channels: BandSource[];
  opts: ConvertOptions;
  /**
   * Without a pool: threads for this conversion; 0 or 1 converts in this
   * thread, n > 1 starts a pool of n for this call. Default: all cores.
   */
  workers?: number;
  /**
   * The process's conversion pool: its threads convert the stamps (workers
   * is then not used), shared with every other conversion using it.
   */
  pool?: StampPool;
  /**
   * Takes each converted stamp, in whatever order they finish. Conversion
   * waits for it before handing over the next, so a slow consumer holds the
   * converters back instead of piling stamps up in memory; an error thrown
   * here stops the conversion and is its result.
   */
  onStamp: (stamp: ConvertedStamp) => Promise<void> | void;
  onProgress?: (done: number, total: number) => void;
}

/** A stamp not converted: it failed, or (`missing`) a band file does not hold it. */
export interface StampFailure {
  index: number;
  /** Names the file (a BandSource's `name` or path); for a missing stamp "missing from <name>: <why>". */
  error: string;
  missing?: true;
}

/**
 * What became of a band set. `total` is the stamps the set should hold (the
 * largest stamp count among its bands, a Stamps file's N_STAMPS included),
 * and total = converted + failed.length always: a stamp missing from a band
 * file is a failed entry (`missing: true`), so it is counted and named, never
 * dropped. Warnings (trailing bytes ignored, which stamps are missing, ...)
 * each start with the name of the file they concern.
 */
export interface ConvertBandsResult {
  total: number;
  converted: number;
  /** In stamp order. */
  failed: StampFailure[];
  warnings: string[];
  /** Frames made, when frames were asked for and the set has two or more bands. */
  frames?: number;
}

export function makesFrames(job: { channels: unknown[]; opts: ConvertOptions }): boolean {
  return job.opts.frames === true && job.channels.length > 1;
}

/**
 * Frames are named by band (in files, and as the rows of a subject's
 * locations), so a band must be a plain word and appear once, ignoring
 * case: on case-insensitive file systems g and G frames would overwrite each
 * other. Checked before any work, as a bad band would otherwise fail every stamp.
 */
export function checkFrameBands(channels: { band: string }[]): void {
  const seen = new Set<string>();
  for (const ch of channels) {
    if (!/^[A-Za-z0-9_]+$/.test(ch.band)) {
      throw new ImagingError(`band "${ch.band}" cannot name a frame file: only letters, digits and _ are allowed`, { field: 'bands' });
    }
    const key = ch.band.toLowerCase();
    if (seen.has(key)) throw new ImagingError(`band "${ch.band}" given twice; its frames would overwrite each other`, { field: 'bands' });
    seen.add(key);
  }
}

export function openBand(src: BandSource): Promise<FitsCutouts> {
  return 'path' in src ? FitsCutouts.open(src.path) : FitsCutouts.fromBytes(src.bytes, src.name);
}

/** Converts every stamp of a band set. A stamp that fails is reported and skipped; the rest go on. */
export async function convertBands(job: ConvertBandsJob): Promise<ConvertBandsResult> {
  const frames = makesFrames(job);
  if (frames) checkFrameBands(job.channels);
  const opened: ChannelSource[] = [];
  try {
    for (const ch of job.channels) opened.push({ band: ch.band, cutouts: await openBand(ch) });
    const { total, missing, warnings: countWarnings } = planStamps(opened);
    const warnings = [...opened.flatMap((o) => o.cutouts.warnings.map((w) => `${o.cutouts.name}: ${w}`)), ...countWarnings];
    const todo = Array.from({ length: total }, (_, i) => i).filter((i) => !missing.has(i));
    const workers = job.pool ? job.pool.threads : Math.min(job.workers ?? availableParallelism(), todo.length);
    const failed: StampFailure[] = [];
    let converted = 0;
    let frameCount = 0;
    let done = 0;
    // Missing stamps are settled first: nothing to convert, only to report.
    for (const [index, error] of missing) {
      failed.push({ index, error, missing: true });
      job.onProgress?.(++done, total);
    }
    const settle = async (index: number, stamp: ConvertedStamp | null, error?: string) => {
      if (stamp) {
        await job.onStamp(stamp);
        converted++;
        frameCount += stamp.frames?.length ?? 0;
      } else failed.push({ index, error: error ?? 'unknown error' });
      job.onProgress?.(++done, total);
    };
    if (!job.pool && workers <= 1) {
      for (const i of todo) {
        let stamp: ConvertedStamp;
        try {
          stamp = { index: i, ...(await convertStamp(opened, i, job.opts)) };
        } catch (e) {
          await settle(i, null, (e as Error).message);
          continue;
        }
        await settle(i, stamp);
      }
    } else if (todo.length) {
      // Two stamps in flight per thread overlap reads with CPU work; large
      // stamps get one, which keeps peak memory down (each is tens of MB in flight).
      const first = opened[0].cutouts.summary()[0];
      const depth = first && first.width * first.height > 512 * 512 ? 1 : 2;
      // The threads open the bands themselves; this thread only needed them to count stamps.
      await Promise.all(opened.splice(0).map((o) => o.cutouts.close()));
      if (job.pool) await viaPool(job.pool, job, todo, job.pool.threads * depth, settle);
      else {
        const pool = new ConvertPool({ threads: workers, perThread: depth });
        try {
          await viaPool(pool, job, todo, workers * depth, settle);
        } finally {
          await pool.close();
        }
      }
    }
    failed.sort((a, b) => a.index - b.index);
    return { total, converted, failed, warnings, ...(frames ? { frames: frameCount } : {}) };
  } finally {
    await Promise.all(opened.map((o) => o.cutouts.close()));
  }
}

/**
 * The stamps converted on a pool's threads. This conversion keeps at most
 * `window` stamps in flight (submitted and not yet taken by onStamp), so a
 * slow consumer holds it back; the pool's own bounded queue holds back
 * every conversion sharing it. Stamps are handed to onStamp one at a time,
 * in the order they finish.
 */
async function viaPool(
  pool: StampPool,
  job: ConvertBandsJob,
  todo: number[],
  window: number,
  settle: (index: number, stamp: ConvertedStamp | null, error?: string) => Promise<void>,
): Promise<void> {
  const set = pool.bandSet(job.channels, job.opts);
  let stopped: unknown;
  let chain = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  const take = (index: number, o: StampOutcome) =>
    (chain = chain
      .then(async () => {
        if (stopped !== undefined) return;
        if ('stamp' in o) await settle(index, o.stamp);
        else if (o.fatal) stopped = new Error(o.error);
        else await settle(index, null, o.error);
      })
      .catch((e: unknown) => {
        stopped ??= e;
      }));
  try {
    for (const index of todo) {
      while (inFlight.size >= window && stopped === undefined) await Promise.race(inFlight);
      if (stopped !== undefined) break;
      const { outcome } = await set.submit(index);
      const entry: Promise<void> = outcome.then((o) => take(index, o)).then(() => void inFlight.delete(entry));
      inFlight.add(entry);
    }
    // Once stopped, stamps already on threads are let go: their outcomes are dropped.
    if (stopped === undefined) await Promise.all(inFlight);
    await chain;
  } finally {
    set.release();
  }
  if (stopped !== undefined) throw stopped;
}
