import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { FitsCutouts } from './cutouts/fits-cutouts.js';
import { checkStampCounts, convertStamp, type ChannelSource, type ConvertOptions, type StampRecord } from './convert.js';

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
}

export interface ConvertSetResult {
  total: number;
  converted: number;
  failed: { index: number; error: string }[];
  warnings: string[];
}

export function stampFileName(index: number): string {
  return `stamp-${String(index).padStart(5, '0')}.png`;
}

/**
 * Converts every stamp of a band set into outDir and writes outDir/stamps.jsonl
 * in stamp order. A stamp that fails is reported and skipped; the rest go on.
 */
export async function convertSet(job: ConvertSetJob): Promise<ConvertSetResult> {
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
    let done = 0;
    // Results arrive out of order from workers; lines are written in stamp order.
    const pending = new Map<number, StampLine | null>();
    let nextLine = 0;
    const settle = async (index: number, line: StampLine | null, error?: string) => {
      if (line) converted++;
      else failed.push({ index, error: error ?? 'unknown error' });
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
            const { png, record } = await convertStamp(opened, i, job.opts);
            const file = stampFileName(i);
            await writeFile(join(job.outDir, file), png);
            await settle(i, { file, ...record });
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
    return { total, converted, failed, warnings };
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
