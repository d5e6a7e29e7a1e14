import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertBands, type BandSource, type ConvertBandsResult, type ConvertedStamp } from '../../src/imaging/convert-bands.js';
import { ConvertPool } from '../../src/imaging/convert-pool.js';
import type { StampOutcome } from '../../src/imaging/convert-pool-port.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../../src/imaging/convert.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';

/**
 * One pool of conversion threads for every band set of a process: its
 * threads are started once and reused, several conversions share them, what
 * they make is what one thread makes, a stamp that breaks (or kills its
 * thread) fails alone and by name, the queue is bounded, and close() lets
 * every submitted stamp finish.
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
const STAMPS = 12;
const opts: ConvertOptions = { ...DEFAULT_CONVERT_OPTIONS, frames: true, colour: { preset: 'lupton', stretch: 50, Q: 8, minimum: 0 } };

let tmp: string;
/** Two band sets of 12 synthetic 48x48 stamps each, i, r, g, as bytes (the service's way). */
let setA: BandSource[];
let setB: BandSource[];

async function writeSet(name: string, seed: number): Promise<BandSource[]> {
  const stamps = Array.from({ length: STAMPS }, (_, k) => syntheticStamp(48, 48, seed + k));
  const positions = Array.from({ length: STAMPS }, (_, k) => ({ ra: 150 + k * 1e-3, dec: 2.2 }));
  const out: BandSource[] = [];
  for (const [b, band] of [[2, 'i'], [1, 'r'], [0, 'g']] as const) {
    const path = join(tmp, `${name}_${band}.fits`);
    await writeStampsFile(path, STAMPS, (i) => ({ plane: stamps[i][b] }), positions);
    out.push({ band, bytes: new Uint8Array(await readFile(path)), name: `${name}_${band}.fits` });
  }
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pool-test-'));
  setA = await writeSet('a', 100);
  setB = await writeSet('b', 500);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function convert(channels: BandSource[], via: { pool: ConvertPool } | { workers: number }): Promise<{ result: ConvertBandsResult; stamps: ConvertedStamp[] }> {
  const stamps: ConvertedStamp[] = [];
  const result = await convertBands({ channels, opts, ...via, onStamp: (s) => void stamps.push(s) });
  return { result, stamps: stamps.sort((a, b) => a.index - b.index) };
}

function sameStamps(got: ConvertedStamp[], want: ConvertedStamp[]): void {
  expect(got.map((s) => s.index)).toEqual(want.map((s) => s.index));
  for (const [k, s] of got.entries()) {
    expect(s.record).toEqual(want[k].record);
    expect(Buffer.from(s.png).equals(Buffer.from(want[k].png))).toBe(true);
    expect(s.frames!.map((f) => f.band)).toEqual(['i', 'r', 'g']);
    for (const [j, f] of s.frames!.entries()) expect(Buffer.from(f.png).equals(Buffer.from(want[k].frames![j].png))).toBe(true);
  }
}

describe('the conversion pool', () => {
  it('keeps its threads from one conversion to the next, converts two sets at once on them, and makes what one thread makes', async () => {
    const pool = new ConvertPool({ threads: 2 });
    try {
      const alone = { a: await convert(setA, { workers: 0 }), b: await convert(setB, { workers: 0 }) };
      expect(alone.a.result.converted).toBe(STAMPS);

      const first = await convert(setA, { pool });
      const ids = pool.threadIds();
      expect(ids).toHaveLength(2);
      // Two groups at once, as the convert job runs them: the same two threads, nothing restarted.
      const [a, b] = await Promise.all([convert(setA, { pool }), convert(setB, { pool })]);
      expect(pool.threadIds()).toEqual(ids);

      for (const r of [first, a, b]) expect(r.result).toEqual({ total: STAMPS, converted: STAMPS, failed: [], warnings: [], frames: 3 * STAMPS });
      sameStamps(first.stamps, alone.a.stamps);
      sameStamps(a.stamps, alone.a.stamps);
      sameStamps(b.stamps, alone.b.stamps);
      expect(pool.stats()).toEqual({ waiting: 0, running: 0, threads: 2 });
    } finally {
      await pool.close();
    }
  });

  it('a corrupt stamp fails alone, named, and the threads go on', async () => {
    // Damage the compressed heap of stamp 2's IMAGE in the r band (as convert.test.ts does for one thread).
    const bytes = new Uint8Array(await readFile(join(FIX, 'stamps_gz_r.fits')));
    const f = await FitsFile.fromBytes(bytes);
    const img2 = f.find('IMAGE', 2)!;
    const rowBytes = img2.header.number('NAXIS1')! * img2.header.number('NAXIS2')!;
    for (let k = 0; k < 40; k++) bytes[img2.dataOffset + rowBytes + 20 + k] ^= 0x5a;
    const channels: BandSource[] = [
      { band: 'i', bytes: await readFile(join(FIX, 'stamps_gz_i.fits')), name: 'i.fits' },
      { band: 'r', bytes, name: 'r-damaged.fits' },
      { band: 'g', bytes: await readFile(join(FIX, 'stamps_gz_g.fits')), name: 'g.fits' },
    ];
    const pool = new ConvertPool({ threads: 2 });
    try {
      await convert(setA, { pool });
      const ids = pool.threadIds();
      expect(ids).toHaveLength(2);
      const { result, stamps } = await convert(channels, { pool });
      expect(result.converted).toBe(1);
      expect(stamps.map((s) => s.index)).toEqual([0]);
      expect(result.failed).toHaveLength(1);
      expect(result.failed[0].index).toBe(1);
      expect(result.failed[0].error).toMatch(/r-damaged\.fits, HDU \d+ \(IMAGE,2\): tile \d+: (gzip|RICE)/);
      // An ordinary failure costs no thread.
      expect((await convert(setA, { pool })).result.converted).toBe(STAMPS);
      expect(pool.threadIds()).toEqual(ids);
    } finally {
      await pool.close();
    }
  });

  it('a thread that dies on a stamp fails that stamp, named; a new thread takes the rest and later conversions', async () => {
    const pool = new ConvertPool({
      threads: 2,
      // One stamp per thread at a time, so the stamp a thread dies on is the only one it holds.
      perThread: 1,
      resourceLimits: { maxOldGenerationSizeMb: 48 },
      threadModule: new URL('./pool-crash-thread.ts', import.meta.url),
    });
    try {
      const crashing = setA.map((ch, k) => (k === 0 ? { ...ch, band: 'crash' } : ch));
      const { result, stamps } = await convert(crashing, { pool });
      expect(result.total).toBe(STAMPS);
      expect(result.failed).toEqual([
        { index: 1, error: expect.stringMatching(/^stamp 1 of a_i\.fits, a_r\.fits, a_g\.fits: the conversion thread stopped while converting it \(.*memory.*\); a new thread takes the other stamps$/) },
      ]);
      expect(stamps.map((s) => s.index)).toEqual([0, ...Array.from({ length: STAMPS - 2 }, (_, k) => k + 2)]);
      expect(result.converted).toBe(STAMPS - 1);
      const ids = pool.threadIds();
      expect(ids).toHaveLength(2);
      const after = await convert(setB, { pool });
      expect(after.result.converted).toBe(STAMPS);
      expect(pool.threadIds()).toEqual(ids);
    } finally {
      await pool.close();
    }
  });

  it('submitting waits while the queue is full: never more than the limit wait', async () => {
    const queueLimit = 3;
    const pool = new ConvertPool({ threads: 1, perThread: 1, queueLimit });
    try {
      const set = pool.bandSet(setA, opts);
      const outcomes: Promise<StampOutcome>[] = [];
      let settled = 0;
      let maxWaiting = 0;
      const submits = 20;
      for (let i = 0; i < submits; i++) {
        const { outcome } = await set.submit(i % STAMPS);
        outcomes.push(outcome.finally(() => settled++));
        maxWaiting = Math.max(maxWaiting, pool.stats().waiting);
        // Admitted only once enough stamps have finished: the limit waiting plus the one on the thread.
        expect(settled).toBeGreaterThanOrEqual(i + 1 - queueLimit - 1);
      }
      expect(maxWaiting).toBe(queueLimit);
      const all = await Promise.all(outcomes);
      expect(all.every((o) => 'stamp' in o)).toBe(true);
      set.release();
    } finally {
      await pool.close();
    }
  });

  it('close() lets every submitted stamp finish, then stops the threads and refuses more', async () => {
    const pool = new ConvertPool({ threads: 2 });
    const set = pool.bandSet(setB, opts);
    const outcomes: Promise<StampOutcome>[] = [];
    for (let i = 0; i < STAMPS; i++) outcomes.push((await set.submit(i)).outcome);
    expect(pool.stats().waiting + pool.stats().running).toBeGreaterThan(0);
    await pool.close();
    const all = await Promise.all(outcomes);
    expect(all.map((o) => ('stamp' in o ? o.stamp.index : o.error))).toEqual(Array.from({ length: STAMPS }, (_, k) => k));
    expect(pool.threadIds()).toEqual([]);
    await expect(set.submit(0)).rejects.toThrow(/the conversion pool is closed/);
  });
});
