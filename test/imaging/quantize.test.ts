import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { riceDecompress } from '../../src/imaging/fits/rice.js';
import { ditherRandoms, NULL_VALUE, unquantizeTile, ZERO_VALUE, type QuantizeParams } from '../../src/imaging/fits/quantize.js';
import { ImagingError } from '../../src/imaging/types.js';

/**
 * Quantised float32 RICE_1 tiles written by astropy (test/fixtures/make_rice_fixtures.py):
 * decompress + unquantise must give astropy's float32 values bit for bit
 * (pixels that were NaN are NaN, see the script's docstring on astropy 5.2).
 */

interface Tile { row: number; width: number; height: number; bytes: string; ints?: string; values?: string; zscale?: number; zzero?: number }
interface Image {
  name: string;
  bytePix: 1 | 2 | 4;
  blockSize: number;
  quantize: { method: QuantizeParams['method']; zdither0: number; zblank?: number } | null;
  tiles: Tile[];
}

const doc = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/rice/tiles.json'), 'utf8')) as { images: Image[] };
const quantised = doc.images.filter((im) => im.quantize);

function float32sOf(b64: string): Float32Array {
  const b = Buffer.from(b64, 'base64');
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

function decodeTile(im: Image, t: Tile, out: Float32Array | Float64Array): Int32Array {
  const ints = new Int32Array(t.width * t.height);
  riceDecompress(new Uint8Array(Buffer.from(t.bytes, 'base64')), ints, im.bytePix, im.blockSize);
  const q = im.quantize!;
  unquantizeTile(ints, out, t.row, { ...q, zscale: t.zscale!, zzero: t.zzero! });
  return ints;
}

const bits = (x: number) => {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
};

describe('ditherRandoms: the FITS standard sequence', () => {
  const r = ditherRandoms();

  it('has 10,000 float32 values in (0, 1), cached', () => {
    expect(r).toBeInstanceOf(Float32Array);
    expect(r.length).toBe(10000);
    expect(ditherRandoms()).toBe(r);
    expect(r.every((v) => v > 0 && v < 1)).toBe(true);
  });

  it('starts with Park-Miller from seed 1 and ends at the standard check value', () => {
    // seed_1 = 16807, seed_2 = 16807^2 = 282475249, seed_3 = 16807^3 mod (2^31 - 1) = 1622650073.
    expect(r[0]).toBe(Math.fround(16807 / 2147483647));
    expect(r[1]).toBe(Math.fround(282475249 / 2147483647));
    expect(r[2]).toBe(Math.fround(1622650073 / 2147483647));
    // The standard: after 10,000 draws the seed is 1043618065.
    expect(r[9999]).toBe(Math.fround(1043618065 / 2147483647));
  });
});

describe('unquantizeTile against astropy', () => {
  it('has fixtures for every method, with NaN and zero pixels and ZDITHER0 wrapping', () => {
    expect(new Set(quantised.map((im) => im.quantize!.method))).toEqual(new Set(['NO_DITHER', 'SUBTRACTIVE_DITHER_1', 'SUBTRACTIVE_DITHER_2']));
    expect(quantised.some((im) => im.tiles.some((t) => t.width * t.height > 9757))).toBe(true);
  });

  for (const im of quantised) {
    it(`${im.name}: every tile equals astropy's float32 values bit for bit`, () => {
      let nans = 0;
      let zeros = 0;
      let pixels = 0;
      for (const t of im.tiles) {
        const want = float32sOf(t.values!);
        const got = new Float32Array(want.length);
        decodeTile(im, t, got);
        let bad = -1;
        for (let i = 0; i < want.length && bad < 0; i++) {
          if (Number.isNaN(want[i]) ? !Number.isNaN(got[i]) : bits(got[i]) !== bits(want[i])) bad = i;
          if (Number.isNaN(got[i])) nans++;
          if (got[i] === 0) zeros++;
        }
        expect(bad, `${im.name} tile ${t.row} pixel ${bad}: ${got[bad]} vs astropy ${want[bad]}`).toBe(-1);
        pixels += want.length;
      }
      expect(pixels).toBe(doc.images.find((i) => i.name === im.name)!.tiles.reduce((s, t) => s + t.width * t.height, 0));
      expect(nans).toBeGreaterThan(0);
      if (im.quantize!.method === 'SUBTRACTIVE_DITHER_2') expect(zeros).toBeGreaterThan(0);
    });
  }

  it('SUBTRACTIVE_DITHER_2 stores zeros as ZERO_VALUE = -2147483646 and NaN as ZBLANK', () => {
    const im = quantised.find((i) => i.name === 'f32_dither2')!;
    let zeroInts = 0;
    for (const t of im.tiles) {
      const vals = new Float32Array(t.width * t.height);
      const ints = decodeTile(im, t, vals);
      for (let i = 0; i < ints.length; i++) {
        if (ints[i] === ZERO_VALUE) {
          zeroInts++;
          expect(Object.is(vals[i], 0)).toBe(true);
        }
        if (ints[i] === im.quantize!.zblank) expect(vals[i]).toBeNaN();
      }
    }
    expect(zeroInts).toBe(3);
  });

  it('float64 output is the same arithmetic without the float32 rounding', () => {
    const im = quantised.find((i) => i.name === 'f32_dither1')!;
    const t = im.tiles[0];
    const f32 = new Float32Array(t.width * t.height);
    const f64 = new Float64Array(t.width * t.height);
    decodeTile(im, t, f32);
    decodeTile(im, t, f64);
    for (let i = 0; i < f32.length; i++) {
      if (Number.isNaN(f32[i])) expect(f64[i]).toBeNaN();
      else expect(Math.fround(f64[i])).toBe(f32[i]);
    }
  });
});

describe('unquantizeTile rules', () => {
  const r = ditherRandoms();
  const base = { zscale: 0.25, zzero: 100 };

  it('NO_DITHER: i * ZSCALE + ZZERO, ZBLANK is NaN, ZERO_VALUE is just a number', () => {
    const out = new Float64Array(4);
    unquantizeTile(new Int32Array([0, 4, NULL_VALUE, ZERO_VALUE]), out, 1, { method: 'NO_DITHER', zdither0: 0, zblank: NULL_VALUE, ...base });
    expect(out[0]).toBe(100);
    expect(out[1]).toBe(101);
    expect(out[2]).toBeNaN();
    expect(out[3]).toBe(ZERO_VALUE * 0.25 + 100);
  });

  it('DITHER_1 seeds from (tileRow - 1 + ZDITHER0 - 1) mod 10000 and advances per pixel, nulls included', () => {
    const n = 5;
    const ints = new Int32Array([10, NULL_VALUE, ZERO_VALUE, 11, 12]);
    for (const [tileRow, zdither0] of [[1, 1], [3, 9999], [1, 10000], [10001, 1], [2, 10000]]) {
      const out = new Float64Array(n);
      unquantizeTile(ints, out, tileRow, { method: 'SUBTRACTIVE_DITHER_1', zdither0, zblank: NULL_VALUE, ...base });
      const iseed = (tileRow - 1 + zdither0 - 1) % 10000;
      const k = Math.floor(r[iseed] * 500);
      expect(out[0]).toBe((10 - r[k] + 0.5) * 0.25 + 100);
      expect(out[1]).toBeNaN();
      expect(out[2]).toBe((ZERO_VALUE - r[k + 2] + 0.5) * 0.25 + 100); // not special under DITHER_1
      expect(out[3]).toBe((11 - r[k + 3] + 0.5) * 0.25 + 100);
      expect(out[4]).toBe((12 - r[k + 4] + 0.5) * 0.25 + 100);
    }
  });

  it('the random index wraps at 10,000 to the next seed (and the seed wraps to 0)', () => {
    // ZDITHER0 10000, tile 1: iseed 9999, k starts at floor(r[9999] * 500).
    const k0 = Math.floor(r[9999] * 500);
    const n = 10000 - k0 + 3;
    const ints = new Int32Array(n);
    const out = new Float64Array(n);
    unquantizeTile(ints, out, 1, { method: 'SUBTRACTIVE_DITHER_2', zdither0: 10000, ...base });
    expect(out[0]).toBe((0 - r[k0] + 0.5) * 0.25 + 100);
    expect(out[n - 4]).toBe((0 - r[9999] + 0.5) * 0.25 + 100);
    const k1 = Math.floor(r[0] * 500);
    expect(out[n - 3]).toBe((0 - r[k1] + 0.5) * 0.25 + 100);
    expect(out[n - 1]).toBe((0 - r[k1 + 2] + 0.5) * 0.25 + 100);
  });

  it('writes only out[0..n) and rejects an out that is too short', () => {
    const out = new Float32Array(6).fill(7);
    unquantizeTile(new Int32Array([1, 2, 3]), out.subarray(1, 4), 1, { method: 'SUBTRACTIVE_DITHER_1', zdither0: 1, ...base });
    expect(out[0]).toBe(7);
    expect(out[4]).toBe(7);
    expect(out[5]).toBe(7);
    expect(() => unquantizeTile(new Int32Array(3), new Float32Array(2), 1, { method: 'NO_DITHER', zdither0: 1, ...base })).toThrow(RangeError);
  });

  it('rejects a ZDITHER0 or tile row that is not an integer with an ImagingError', () => {
    const p = { method: 'SUBTRACTIVE_DITHER_1' as const, ...base };
    expect(() => unquantizeTile(new Int32Array(2), new Float32Array(2), 1, { ...p, zdither0: 1.5 })).toThrow(ImagingError);
    expect(() => unquantizeTile(new Int32Array(2), new Float32Array(2), 1, { ...p, zdither0: NaN })).toThrow(ImagingError);
    expect(() => unquantizeTile(new Int32Array(2), new Float32Array(2), 0, { ...p, zdither0: 1 })).toThrow(ImagingError);
  });

  it('any integers, any ZDITHER0: no throw, one value per pixel, NaN exactly at ZBLANK', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(NULL_VALUE, ZERO_VALUE)), { maxLength: 300 }),
        fc.integer({ min: -20000, max: 20000 }),
        fc.integer({ min: 1, max: 30000 }),
        fc.constantFrom<QuantizeParams['method']>('NO_DITHER', 'SUBTRACTIVE_DITHER_1', 'SUBTRACTIVE_DITHER_2'),
        (arr, zdither0, tileRow, method) => {
          const ints = Int32Array.from(arr);
          const out = new Float32Array(ints.length + 1).fill(42);
          unquantizeTile(ints, out.subarray(0, ints.length), tileRow, { method, zdither0, zscale: 0.1, zzero: 5, zblank: NULL_VALUE });
          expect(out[ints.length]).toBe(42);
          for (let i = 0; i < ints.length; i++) {
            expect(Number.isNaN(out[i])).toBe(ints[i] === NULL_VALUE);
            if (method === 'SUBTRACTIVE_DITHER_2' && ints[i] === ZERO_VALUE) expect(out[i]).toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
