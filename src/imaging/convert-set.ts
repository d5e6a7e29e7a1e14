import { mkdir, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFrameBands, convertBands, makesFrames, type ConvertBandsResult, type ConvertedStamp } from './convert-bands.js';
import type { ConvertOptions, StampRecord } from './convert.js';
import { ImagingError } from './types.js';
import type { StampPool } from './convert-pool-port.js';

/**
 * A band set converted into a directory: one PNG per stamp (and per frame)
 * and stamps.jsonl, the command line's output. The conversion itself is
 * convert-bands.ts; this file only names and writes what it makes.
 */

export interface BandFile {
  band: string;
  path: string;
}

export interface ConvertSetJob {
  /** In channel order: R, G, B (or a single band for grey). */
  channels: BandFile[];
  outDir: string;
  opts: ConvertOptions;
  /** Worker threads when no pool is given; 0 or 1 converts in this thread. Default: all cores. */
  workers?: number;
  /** A conversion pool to use instead of starting threads for this set (see convert-pool.ts). */
  pool?: StampPool;
  onProgress?: (done: number, total: number) => void;
}

export interface StampLine extends StampRecord {
  file: string;
  /** Only when frames were made (ConvertOptions.frames, two or more bands), in channel order. */
  frames?: FrameLine[];
}

export interface FrameLine {
  band: string;
  file: string;
  bytes: number;
}

export type ConvertSetResult = ConvertBandsResult;

export function stampFileName(index: number): string {
  return `stamp-${String(index).padStart(5, '0')}.png`;
}

/** The band goes into a path, so only a plain word is accepted (no separators, dots or dashes that could clash). */
export function frameFileName(index: number, band: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(band)) {
    throw new ImagingError(`band "${band}" cannot name a frame file: only letters, digits and _ are allowed`, { field: 'bands' });
  }
  return `stamp-${String(index).padStart(5, '0')}-${band}.png`;
}

/**
 * Writes one converted stamp (colour PNG, then its frames) into outDir and
 * returns its stamps.jsonl line. The writes are synchronous: a PNG is a few
 * hundred kB written to a local directory, and an async writeFile's
 * open/write/close round trips through libuv's threadpool cost this thread
 * 1.5-3x the CPU of the same writes done in place (measured by CPU time,
 * 200 kB files: 0.25-0.87 vs 0.11-0.40 ms a file), which was 6-12% of a
 * one-core `bridge convert`. Converting threads of the pool are not held up:
 * each has its next stamp already.
 */
export async function writeStamp(outDir: string, index: number, converted: Omit<ConvertedStamp, 'index'>): Promise<StampLine> {
  const file = stampFileName(index);
  writeFileSync(join(outDir, file), converted.png);
  const line: StampLine = { file, ...converted.record };
  if (converted.frames) {
    line.frames = [];
    for (const f of converted.frames) {
      const name = frameFileName(index, f.band);
      writeFileSync(join(outDir, name), f.png);
      line.frames.push({ band: f.band, file: name, bytes: f.png.length });
    }
  }
  return line;
}

/**
 * Converts every stamp of a band set into outDir and writes outDir/stamps.jsonl
 * in stamp order. A stamp that fails (to convert, or to be written) is
 * reported and skipped; the rest go on.
 */
export async function convertSet(job: ConvertSetJob): Promise<ConvertSetResult> {
  // Before the directory is made: a bad band name leaves nothing behind.
  if (makesFrames(job)) checkFrameBands(job.channels);
  await mkdir(job.outDir, { recursive: true });
  const lines: StampLine[] = [];
  const unwritten: { index: number; error: string; frames: number }[] = [];
  const result = await convertBands({
    channels: job.channels,
    opts: job.opts,
    workers: job.workers,
    pool: job.pool,
    onProgress: job.onProgress,
    async onStamp(s) {
      try {
        lines.push(await writeStamp(job.outDir, s.index, s));
      } catch (e) {
        unwritten.push({ index: s.index, error: (e as Error).message, frames: s.frames?.length ?? 0 });
      }
    },
  });
  // Written once at the end: stamps finish out of order on threads, the list is in stamp order.
  lines.sort((a, b) => a.index - b.index);
  await writeFile(join(job.outDir, 'stamps.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  if (!unwritten.length) return result;
  const failed = [...result.failed, ...unwritten.map(({ index, error }) => ({ index, error }))].sort((a, b) => a.index - b.index);
  const frames = result.frames === undefined ? {} : { frames: result.frames - unwritten.reduce((n, u) => n + u.frames, 0) };
  return { ...result, converted: result.converted - unwritten.length, failed, ...frames };
}
