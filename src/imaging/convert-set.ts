import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { FitsCutouts } from './cutouts/fits-cutouts.js';
import { checkStampCounts, convertStamp, type ChannelSource, type ConvertOptions, type StampFrame, type StampRecord } from './convert.js';
import { ImagingError } from './types.js';

export interface BandFile {
  band: string;
  path: string;
}

export interface ConvertSetJob {
  /** In channel order: R, G, B (or a single band for grey). */
  channels: BandFile[];
  outDir: string;
  opts: ConvertOptions;
  /** Worker threads; 0 or 1 converts in this thread. Default: all cores. */
  workers?: number;
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

export interface ConvertSetResult {
  total: number;
  converted: number;
  failed: { index: number; error: string }[];
  warnings: string[];
  /** Frame files written, when frames were asked for and the set has two or more bands. */
  frames?: number;
}

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

function makesFrames(job: { channels: unknown[]; opts: ConvertOptions }): boolean {
  return job.opts.frames === true && job.channels.length > 1;
}

/**
 * Writes one converted stamp (colour PNG, then its frames) into outDir and
 * returns its stamps.jsonl line; shared by this thread and the workers so
 * both write the same files.
 */
export async function writeStamp(
  outDir: string,
  index: number,
  converted: { png: Uint8Array; record: StampRecord; frames?: StampFrame[] },
): Promise<StampLine> {
  const file = stampFileName(index);
  await writeFile(join(outDir, file), converted.png);
  const line: StampLine = { file, ...converted.record };
  if (converted.frames) {
    line.frames = [];
    for (const f of converted.frames) {
      const name = frameFileName(index, f.band);
      await writeFile(join(outDir, name), f.png);
      line.frames.push({ band: f.band, file: name, bytes: f.png.length });
    }
  }
  return line;
}

/**
 * Converts every stamp of a band set into outDir and writes outDir/stamps.jsonl
 * in stamp order. A stamp that fails is reported and skipped; the rest go on.
 */
export async function convertSet(job: ConvertSetJob): Promise<ConvertSetResult> {
  const frames = makesFrames(job);
  if (frames) {
    // Refused before any work: a bad band name would otherwise fail every stamp.
    const seen = new Set<string>();
    for (const ch of job.channels) {
      frameFileName(0, ch.band);
      // Lower case too: on case-insensitive file systems g and G frames would overwrite each other.
      const key = ch.band.toLowerCase();
      if (seen.has(key)) throw new ImagingError(`band "${ch.band}" given twice; its frames would overwrite each other`, { field: 'bands' });
      seen.add(key);
    }
  }
  await mkdir(job.outDir, { recursive: true });
  const opened: ChannelSource[] = [];
  try {
    for (const ch of job.channels) opened.push({ band: ch.band, cutouts: await FitsCutouts.open(ch.path) });
    const total = checkStampCounts(opened);
    const warnings = opened.flatMap((o) => o.cutouts.warnings.map((w) => `${o.cutouts.name}: ${w}`));
    const workers = Math.min(job.workers ?? availableParallelism(), total);
    const jsonl = await open(join(job.outDir, 'stamps.jsonl'), 'w');
    const failed: { index: number; error: string }[] = [];
    let converted = 0;
    let frameFiles = 0;
    let done = 0;
    // Results arrive out of order from workers; lines are written in stamp order.
    const pending = new Map<number, StampLine | null>();
    let nextLine = 0;
    const settle = async (index: number, line: StampLine | null, error?: string) => {
      if (line) {
        converted++;
        frameFiles += line.frames?.length ?? 0;
      } else failed.push({ index, error: error ?? 'unknown error' });
      pending.set(index, line);
      while (pending.has(nextLine)) {
        const l = pending.get(nextLine);
        pending.delete(nextLine);
        if (l) await jsonl.write(JSON.stringify(l) + '\n');
        nextLine++;
      }
      job.onProgress?.(++done, total);
    };
    try {
      if (workers <= 1) {
        for (let i = 0; i < total; i++) {
          try {
            const line = await writeStamp(job.outDir, i, await convertStamp(opened, i, job.opts));
            await settle(i, line);
          } catch (e) {
            await settle(i, null, (e as Error).message);
          }
        }
      } else {
        // Two stamps in flight per worker overlap file reads with CPU work; large
        // stamps get one, which keeps peak memory down (each is tens of MB in flight).
        const first = opened[0].cutouts.summary()[0];
        const depth = first && first.width * first.height > 512 * 512 ? 1 : 2;
        await runPool(job, total, workers, depth, settle);
      }
    } finally {
      await jsonl.close();
    }
    failed.sort((a, b) => a.index - b.index);
    return { total, converted, failed, warnings, ...(frames ? { frames: frameFiles } : {}) };
  } finally {
    await Promise.all(opened.map((o) => o.cutouts.close()));
  }
}

export interface WorkerInit {
  channels: BandFile[];
  outDir: string;
  opts: ConvertOptions;
}

export type WorkerReply = { index: number; line: StampLine } | { index: number; error: string } | { fatal: string };

/**
 * Starts one conversion worker. Compiled (dist/) code runs the .js worker
 * directly; under vitest/tsx the sources are .ts, so the worker first
 * registers tsx's loader and then imports the .ts worker.
 */
function startWorker(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./convert-worker.js', import.meta.url), { workerData: init });
  const target = new URL('./convert-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(target)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}

async function runPool(
  job: ConvertSetJob,
  total: number,
  n: number,
  depth: number,
  settle: (index: number, line: StampLine | null, error?: string) => Promise<void>,
): Promise<void> {
  const init: WorkerInit = { channels: job.channels, outDir: job.outDir, opts: job.opts };
  let next = 0;
  let chain = Promise.resolve();
  const runOne = () =>
    new Promise<void>((resolve, reject) => {
      const w = startWorker(init);
      let inFlight = 0;
      const feed = () => {
        while (inFlight < depth && next < total) {
          w.postMessage(next++);
          inFlight++;
        }
        if (inFlight === 0) w.postMessage('close');
      };
      w.on('message', (m: WorkerReply) => {
        if ('fatal' in m) {
          void w.terminate();
          reject(new Error(m.fatal));
          return;
        }
        inFlight--;
        chain = chain.then(() => settle(m.index, 'line' in m ? m.line : null, 'error' in m ? m.error : undefined));
        feed();
      });
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`convert worker exited with code ${code}`))));
      feed();
    });
  await Promise.all(Array.from({ length: n }, runOne));
  await chain;
}
