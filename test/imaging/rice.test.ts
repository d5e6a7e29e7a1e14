import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { riceDecompress } from '../../src/imaging/fits/rice.js';
import { ImagingError } from '../../src/imaging/types.js';

/**
 * RICE_1 tiles written by astropy's cfitsio (test/fixtures/make_rice_fixtures.py):
 * every tile must decode to exactly the integers astropy stored, and damaged
 * or random input must fail with an ImagingError, promptly, without touching
 * memory outside `out`.
 */

interface Tile { row: number; width: number; height: number; bytes: string; ints?: string }
interface Image { name: string; bytePix: 1 | 2 | 4; blockSize: number; tiles: Tile[] }

const doc = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/rice/tiles.json'), 'utf8')) as { images: Image[] };
const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
function int32sOf(b64: string): Int32Array {
  const b = Buffer.from(b64, 'base64');
  const out = new Int32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt32LE(i * 4);
  return out;
}

const realTiles = doc.images.flatMap((im) =>
  im.tiles.map((t) => ({ image: im, tile: t, input: bytesOf(t.bytes), n: t.width * t.height })),
);

/** Decodes into the middle of a guarded buffer; fails if anything outside the view changed. */
function decodeGuarded(input: Uint8Array, n: number, bytePix: 1 | 2 | 4, blockSize: number): Int32Array {
  const GUARD = 64;
  const SENTINEL = 0x5a5a5a5a;
  const buf = new Int32Array(n + 2 * GUARD).fill(SENTINEL);
  const out = buf.subarray(GUARD, GUARD + n);
  try {
    riceDecompress(input, out, bytePix, blockSize);
  } finally {
    for (let i = 0; i < GUARD; i++) {
      if (buf[i] !== SENTINEL || buf[GUARD + n + i] !== SENTINEL) throw new Error('wrote outside out');
    }
  }
  return out;
}

function onlyImagingError(f: () => void): 'ok' | 'rejected' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ImagingError)) throw e;
    expect(e.message).toMatch(/^RICE_1 tile is corrupt: /);
    return 'rejected';
  }
}

describe('riceDecompress against astropy', () => {
  it('has fixtures for BYTEPIX 1, 2 and 4 and both block sizes', () => {
    expect(new Set(doc.images.map((i) => i.bytePix))).toEqual(new Set([1, 2, 4]));
    expect(new Set(doc.images.map((i) => i.blockSize))).toEqual(new Set([16, 32]));
  });

  for (const im of doc.images) {
    it(`${im.name}: every tile decodes to astropy's integers`, () => {
      let checked = 0;
      for (const t of im.tiles) {
        const out = decodeGuarded(bytesOf(t.bytes), t.width * t.height, im.bytePix, im.blockSize);
        if (!t.ints) continue;
        const want = int32sOf(t.ints);
        expect(out.length).toBe(want.length);
        let bad = -1;
        for (let i = 0; i < want.length && bad < 0; i++) if (out[i] !== want[i]) bad = i;
        expect(bad, `${im.name} tile ${t.row}: first difference at pixel ${bad}: ${out[bad]} vs ${want[bad]}`).toBe(-1);
        checked++;
      }
      if (im.name !== 'f32_dither2_wrap') expect(checked).toBe(im.tiles.length);
    });
  }

  it('BYTEPIX 1 comes out unsigned (0..255), BYTEPIX 2 signed 16-bit, BYTEPIX 4 full int32', () => {
    const range = (name: string) => {
      const im = doc.images.find((i) => i.name === name)!;
      let lo = Infinity;
      let hi = -Infinity;
      for (const t of im.tiles) {
        const out = new Int32Array(t.width * t.height);
        riceDecompress(bytesOf(t.bytes), out, im.bytePix, im.blockSize);
        for (const v of out) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      return [lo, hi];
    };
    expect(range('uint8_tiles')).toEqual([0, 255]);
    expect(range('int16_tiles')).toEqual([-32768, 32767]);
    expect(range('int32_rows')).toEqual([-2147483648, 2147483647]);
  });

  it('decodes only out.length pixels (a shorter out is a prefix)', () => {
    const { image, input, n } = realTiles[0];
    const full = new Int32Array(n);
    riceDecompress(input, full, image.bytePix, image.blockSize);
    const part = new Int32Array(n - 7);
    riceDecompress(input, part, image.bytePix, image.blockSize);
    expect(Array.from(part)).toEqual(Array.from(full.subarray(0, n - 7)));
    riceDecompress(input, new Int32Array(0), image.bytePix, image.blockSize);
  });
});

describe('riceDecompress on damaged input', () => {
  it('rejects every truncation of every real tile', () => {
    for (const { image, input, n } of realTiles) {
      for (let len = 0; len < input.length; len++) {
        expect(onlyImagingError(() => decodeGuarded(input.subarray(0, len), n, image.bytePix, image.blockSize))).toBe('rejected');
      }
    }
  });

  it('rejects bad arguments', () => {
    const input = new Uint8Array(64);
    const out = new Int32Array(8);
    expect(() => riceDecompress(input, out, 3 as 4, 32)).toThrow(ImagingError);
    expect(() => riceDecompress(input, out, 4, 0)).toThrow(ImagingError);
    expect(() => riceDecompress(input, out, 4, 1.5)).toThrow(ImagingError);
    expect(() => riceDecompress(input, out, 4, NaN)).toThrow(ImagingError);
  });

  it('rejects a block selector above the largest code (fs > 25 for BYTEPIX 4)', () => {
    // First value 0 (4 bytes), then selector 11111 (fs + 1 = 31).
    expect(() => riceDecompress(new Uint8Array([0, 0, 0, 0, 0xf8, 0, 0, 0]), new Int32Array(4), 4, 32)).toThrow(/corrupt: /);
  });

  it('random bytes: only ImagingError, nothing written outside out', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom<1 | 2 | 4>(1, 2, 4),
        fc.constantFrom(8, 16, 32, 1, 7),
        (input, n, bytePix, blockSize) => {
          onlyImagingError(() => decodeGuarded(input, n, bytePix, blockSize));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('bit-flipped real tiles: only ImagingError, nothing written outside out', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: realTiles.length - 1 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -3, max: 3 }),
        (which, flips, extra) => {
          const { image, input, n } = realTiles[which];
          const damaged = input.slice();
          for (const f of flips) damaged[(f >>> 3) % damaged.length] ^= 1 << (f & 7);
          // Also ask for a few pixels more or fewer than the tile holds.
          onlyImagingError(() => decodeGuarded(damaged, Math.max(0, n + extra), image.bytePix, image.blockSize));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a tiny input cannot make it spin: work is bounded by out.length', () => {
    // All-low-entropy stream: each 4-bit selector 0000 emits a whole block,
    // so 1 MB of zeros could describe 2^24 pixels; a 10^6-pixel out stops it.
    const input = new Uint8Array(1 << 20);
    const out = new Int32Array(1_000_000);
    const t0 = performance.now();
    riceDecompress(input, out, 2, 32);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(out.every((v) => v === 0)).toBe(true);
    // The same with too few bytes for the pixels asked for is corrupt.
    expect(() => riceDecompress(new Uint8Array(3), new Int32Array(1_000_000), 2, 32)).toThrow(ImagingError);
  });
});
