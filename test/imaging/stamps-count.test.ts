import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertBands, type BandSource, type ConvertBandsResult } from '../../src/imaging/convert-bands.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { formatCard } from '../../src/imaging/fits/header.js';
import { concat } from '../support/fits-builder.js';

/**
 * Stamps that a file (or one band of a set) says exist but does not hold.
 * Nothing may be lost silently: each missing stamp is a failed entry naming
 * the file, so total = converted + failed and the set is partial.
 * Band files are given as bytes with a name, as the service gives them; the
 * name is what messages must use.
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
const fixture = (file: string) => new Uint8Array(readFileSync(join(FIX, file)));

/** Replaces the first primary-header card `key` with a new value, every other byte in place. */
function withCard(bytes: Uint8Array, key: string, value: number): Uint8Array {
  const text = Buffer.from(bytes.subarray(0, 2880)).toString('latin1');
  for (let at = 0; at < 2880; at += 80) {
    if (text.slice(at, at + 8).trimEnd() === key) {
      const out = bytes.slice();
      out.set(Buffer.from(formatCard(key, value), 'latin1'), at);
      return out;
    }
  }
  throw new Error(`no ${key} card`);
}

/** The bytes without HDUs from..to (inclusive), which must be whole HDUs. */
async function withoutHdus(bytes: Uint8Array, from: number, to: number): Promise<Uint8Array> {
  const f = await FitsFile.fromBytes(bytes);
  const start = f.hdus[from].headerOffset;
  const end = f.hdus[to + 1]?.headerOffset ?? bytes.length;
  return concat([bytes.subarray(0, start), bytes.subarray(end)]);
}

async function convert(channels: BandSource[], workers = 0): Promise<ConvertBandsResult & { indices: number[]; ras: (number | null)[] }> {
  const stamps: { index: number; ra: number | null }[] = [];
  const result = await convertBands({ channels, opts: DEFAULT_CONVERT_OPTIONS, workers, onStamp: (s) => void stamps.push({ index: s.index, ra: s.record.ra }) });
  stamps.sort((a, b) => a.index - b.index);
  return { ...result, indices: stamps.map((s) => s.index), ras: stamps.map((s) => s.ra) };
}

const bandSet = (i: Uint8Array, r: Uint8Array = fixture('stamps_r.fits'), g: Uint8Array = fixture('stamps_g.fits')): BandSource[] => [
  { band: 'i', bytes: i, name: 'i-5f3a.fits' },
  { band: 'r', bytes: r, name: 'r-77b0.fits' },
  { band: 'g', bytes: g, name: 'g-c1d2.fits' },
];

describe('a Stamps file holding fewer stamps than N_STAMPS says', () => {
  for (const workers of [0, 2]) {
    it(`N_STAMPS = 5 with 3 IMAGE extensions: stamps 4-5 are failed entries naming the file, the 3 others convert (workers ${workers})`, async () => {
      const five = withCard(fixture('stamps_i.fits'), 'N_STAMPS', 5);
      const r = await convert(bandSet(five, withCard(fixture('stamps_r.fits'), 'N_STAMPS', 5), withCard(fixture('stamps_g.fits'), 'N_STAMPS', 5)), workers);
      expect(r.total).toBe(5);
      expect(r.converted).toBe(3);
      expect(r.indices).toEqual([0, 1, 2]);
      expect(r.failed.map((f) => f.index)).toEqual([3, 4]);
      expect(r.total).toBe(r.converted + r.failed.length);
      for (const f of r.failed) {
        expect(f.missing).toBe(true);
        expect(f.error).toMatch(/^missing from i-5f3a\.fits: N_STAMPS says 5 but the file holds 3 IMAGE extensions/);
      }
      expect(r.warnings).toContain('i-5f3a.fits: stamps 4-5 of 5 missing: N_STAMPS says 5 but the file holds 3 IMAGE extensions');
    });
  }

  it('a stamp missing in the middle (no IMAGE with EXTVER 2) is the one reported; the others keep their own positions', async () => {
    // HDUs 4-6 are IMAGE, MASK and VARIANCE of EXTVER 2; N_STAMPS still says 3.
    const gap = await withoutHdus(fixture('stamps_i.fits'), 4, 6);
    const r = await convert(bandSet(gap));
    expect(r.indices).toEqual([0, 2]);
    expect(r.failed).toEqual([{ index: 1, error: expect.stringMatching(/^missing from i-5f3a\.fits: .*no IMAGE with EXTVER 2/), missing: true }]);
    // Stamp 2 is RA_DEG's third entry (150.1172), not the second.
    expect(r.ras[1]).toBeCloseTo(150.1172, 9);
    expect(r.warnings.join('\n')).toMatch(/i-5f3a\.fits: stamp 2 of 3 missing: N_STAMPS says 3 but the file holds 2 IMAGE extensions/);
  });

  it('the file as a whole still converts when N_STAMPS agrees with what it holds (no failures, no warnings)', async () => {
    const r = await convert(bandSet(fixture('stamps_i.fits')));
    expect([r.total, r.converted, r.failed, r.warnings]).toEqual([3, 3, [], []]);
  });
});

describe('band files of one set that disagree in stamp count', () => {
  it('total is the largest count; the stamps a band lacks fail naming that band file; the rest convert', async () => {
    // The r file holds stamps 1-2 only (HDUs 7-9 are stamp 3), and says so.
    const r2 = withCard(await withoutHdus(fixture('stamps_r.fits'), 7, 9), 'N_STAMPS', 2);
    for (const workers of [0, 2]) {
      const r = await convert(bandSet(fixture('stamps_i.fits'), r2), workers);
      expect([r.total, r.converted]).toEqual([3, 2]);
      expect(r.indices).toEqual([0, 1]);
      expect(r.failed).toEqual([{ index: 2, error: expect.stringMatching(/^missing from r-77b0\.fits: it has 2 stamps, band i \(i-5f3a\.fits\) has 3/), missing: true }]);
      expect(r.warnings.join('\n')).toMatch(/r-77b0\.fits: stamp 3 of 3 missing: it has 2 stamps, band i \(i-5f3a\.fits\) has 3/);
    }
  });
});
