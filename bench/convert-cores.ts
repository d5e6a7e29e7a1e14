/**
 * Two cores against one, for conversion: the same 3-band 256x256 stamp set
 * converted in one thread and on the persistent conversion pool with two
 * threads, beside the machine's ceiling (the same pure-CPU loop on one and
 * on two threads), all in one run so the ratios stay comparable on a shared,
 * noisy machine. Target: the pool >= 1.8x one thread.
 *
 * Standalone: `npm run build && npx tsx bench/convert-cores.ts`
 * (env BENCH_CORES_STAMPS, default 200; BENCH_CORES_ROUNDS, default 3).
 * bench:convert can call convertCores() and print formatCores() of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
// The compiled code (dist/) is what ships and what the pool's threads run.
import { syntheticStamp } from '../dist/src/imaging/synthetic.js';
import { writeStampsFile } from '../dist/src/imaging/fits/stamps-writer.js';
import { convertBands, type BandSource } from '../dist/src/imaging/convert-bands.js';
import { ConvertPool } from '../dist/src/imaging/convert-pool.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../dist/src/imaging/convert.js';

export interface CoresFigures {
  stamps: number;
  size: number;
  threads: number;
  rounds: number;
  /** Best round: conversion in this thread (`--workers 0`). */
  oneThread: Run;
  /** Best round: on a pool of one thread (what the pool itself costs). */
  poolOfOne: Run;
  /** Best round: on the pool of `threads` threads. */
  pool: Run;
  /** pool / oneThread, per round and best. */
  speedups: number[];
  /** The pure-CPU loop on `threads` threads against one, per round. */
  ceilings: number[];
}

// As bench:convert: Lupton stretch 50 Q 8, zlib 6; the 1 MB cap lifted (speed is measured, not Zooniverse's limit).
const opts: ConvertOptions = { ...DEFAULT_CONVERT_OPTIONS, maxBytes: 64e6, level: 6, colour: { preset: 'lupton', minimum: 0, stretch: 50, Q: 8 } };

async function makeSet(dir: string, size: number, count: number): Promise<BandSource[]> {
  const distinct = Math.min(count, 16);
  const stamps = Array.from({ length: distinct }, (_, k) => syntheticStamp(size, size, 1000 + k));
  const positions = Array.from({ length: count }, (_, i) => ({ ra: 150 + i * 1e-3, dec: 2.2 }));
  const channels: BandSource[] = [];
  for (const [b, band] of [[2, 'i'], [1, 'r'], [0, 'g']] as const) {
    const path = join(dir, `${band}.fits`);
    await writeStampsFile(path, count, (i) => ({ plane: stamps[i % distinct][b] }), positions);
    channels.push({ band, path });
  }
  return channels;
}

export interface Run {
  /** Stamps/s of wall time. */
  rate: number;
  /** CPU time of the whole process (every thread) per stamp, ms: what the pool adds, whatever the machine's load. */
  cpuMs: number;
  /** On a pool: the mean share of the run its threads were busy (1: never waiting for a stamp). */
  busy?: number;
}

async function run(channels: BandSource[], via: { workers: number } | { pool: ConvertPool }): Promise<Run> {
  let bytes = 0;
  const elu0 = 'pool' in via ? via.pool.utilization() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await convertBands({ channels, opts, ...via, onStamp: (s) => void (bytes += s.png.length) });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (r.failed.length || !bytes) throw new Error(`benchmark stamps failed: ${r.failed[0]?.error}`);
  const out: Run = { rate: r.converted / s, cpuMs: (cpu.user + cpu.system) / 1000 / r.converted };
  if ('pool' in via) {
    const busy = [...via.pool.utilization(elu0).values()].map((u) => u.utilization);
    out.busy = busy.reduce((a, b) => a + b, 0) / busy.length;
  }
  return out;
}

const best = (runs: Run[]): Run => runs.reduce((a, b) => (b.rate > a.rate ? b : a));

/** The same allocation-free loop on 1 and on n threads at once: n x (time on 1) / (time on n). */
async function ceiling(n: number, iterations: number): Promise<number> {
  const code = `let x = 0; for (let i = 0; i < ${iterations}; i++) x += Math.sqrt(i); require('node:worker_threads').parentPort.postMessage(x);`;
  const time = async (threads: number) => {
    // Threads started first and released together, so their start-up is not timed.
    const started = Array.from({ length: threads }, () => new Worker(`require('node:worker_threads').parentPort.once('message', () => { ${code} });`, { eval: true }));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = process.hrtime.bigint();
    await Promise.all(started.map((w) => new Promise((r) => { w.once('message', r); w.postMessage('go'); })));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    await Promise.all(started.map((w) => w.terminate()));
    return s;
  };
  const one = await time(1);
  const all = await time(n);
  return (n * one) / all;
}

export async function convertCores(o: { stamps?: number; size?: number; threads?: number; rounds?: number } = {}): Promise<CoresFigures> {
  const stamps = o.stamps ?? 200;
  const size = o.size ?? 256;
  const threads = o.threads ?? 2;
  const rounds = o.rounds ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'bench-cores-'));
  const pool = new ConvertPool({ threads });
  const single = new ConvertPool({ threads: 1 });
  try {
    const channels = await makeSet(dir, size, stamps);
    // Started once, as in a process that converts: a warm-up conversion starts the threads, which are then reused.
    await run(channels, { pool });
    await run(channels, { pool: single });
    await run(channels, { workers: 0 });
    const one: Run[] = [];
    const ofOne: Run[] = [];
    const many: Run[] = [];
    const ceilings: number[] = [];
    // Interleaved rounds: a burst of load from other work falls on every figure alike.
    for (let r = 0; r < rounds; r++) {
      one.push(await run(channels, { workers: 0 }));
      many.push(await run(channels, { pool }));
      ofOne.push(await run(channels, { pool: single }));
      ceilings.push(await ceiling(threads, 4e8));
    }
    return { stamps, size, threads, rounds, oneThread: best(one), poolOfOne: best(ofOne), pool: best(many), speedups: many.map((m, r) => m.rate / one[r].rate), ceilings };
  } finally {
    await Promise.all([pool.close(), single.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatCores(f: CoresFigures): string {
  const x = (v: number) => `${v.toFixed(2)}x`;
  const row = (label: string, r: Run, note: string) =>
    `  ${label.padEnd(28)} ${r.rate.toFixed(1).padStart(7)} stamps/s  ${r.cpuMs.toFixed(1).padStart(5)} ms CPU/stamp  ${r.busy === undefined ? '               ' : `threads busy ${(r.busy * 100).toFixed(0).padStart(3)}%`}  ${note}`;
  return [
    `cores: ${f.stamps} stamps x 3 bands of ${f.size}x${f.size}, best of ${f.rounds} interleaved rounds (CPU: every thread of the process)`,
    row('one thread (in process)', f.oneThread, ''),
    row('pool of 1 thread', f.poolOfOne, `${x(f.poolOfOne.rate / f.oneThread.rate)} one thread (the cost of handing stamps to a thread)`),
    row(`pool of ${f.threads} threads`, f.pool, `${x(f.pool.rate / f.oneThread.rate)} one thread (target >= 1.8x)`),
    `  machine ceiling, ${f.threads} threads      ${x(Math.max(...f.ceilings))} one thread (a pure-CPU loop; no program scales past it)`,
    `  per round: pool/one ${f.speedups.map(x).join(' ')}; ceiling ${f.ceilings.map(x).join(' ')}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await convertCores({ stamps: Number(process.env.BENCH_CORES_STAMPS ?? 200), rounds: Number(process.env.BENCH_CORES_ROUNDS ?? 3) });
  console.log(formatCores(figures));
}
