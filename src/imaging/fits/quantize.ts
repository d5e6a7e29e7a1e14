import { ImagingError } from '../types.js';

/**
 * Restoring quantised floating-point tiles (FITS standard 4.0, sections 10.2
 * and 10.3; the cfitsio behaviour astropy reproduces):
 *
 * - NO_DITHER:             value = i * ZSCALE + ZZERO
 * - SUBTRACTIVE_DITHER_1:  value = (i - r + 0.5) * ZSCALE + ZZERO
 * - SUBTRACTIVE_DITHER_2:  as DITHER_1, but i = ZERO_VALUE (-2147483646) is exactly 0.0
 * - i = ZBLANK (if given) is undefined: NaN, whatever the method.
 *
 * The arithmetic is done in double and rounded once on the store, like
 * cfitsio's `(float)(((double)i - r + 0.5) * scale + zero)`, so float32
 * output is bit-for-bit what cfitsio/astropy give.
 *
 * r walks the standard's sequence of 10,000 uniform randoms: a tile numbered
 * t (1-based row of the compressed table) starts at iseed = (t - 1 + ZDITHER0
 * - 1) mod 10000 and index k = floor(r[iseed] * 500); k advances after every
 * pixel (null and zero pixels included); when k reaches 10,000, iseed
 * advances (wrapping to 0) and k restarts at floor(r[iseed] * 500).
 */

export type QuantizeMethod = 'NO_DITHER' | 'SUBTRACTIVE_DITHER_1' | 'SUBTRACTIVE_DITHER_2';

export interface QuantizeParams {
  method: QuantizeMethod;
  /** ZDITHER0 (1..10000 per the standard; any integer is taken modulo 10000). Unused for NO_DITHER. */
  zdither0: number;
  /** ZSCALE of this tile (column value, or header keyword). */
  zscale: number;
  /** ZZERO of this tile (column value, or header keyword). */
  zzero: number;
  /**
   * The integer that marks an undefined pixel (ZBLANK column or keyword),
   * decoded as NaN. cfitsio writes -2147483647 (its NULL_VALUE); the standard
   * recommends -2147483648, which is also what astropy 5.2 ends up storing.
   */
  zblank?: number;
}

const N_RANDOM = 10000;
/** SUBTRACTIVE_DITHER_2 stores exact zeros as this integer (cfitsio's ZERO_VALUE). */
export const ZERO_VALUE = -2147483646;
/** The integer cfitsio stores for undefined pixels of quantised tiles (its NULL_VALUE; it writes ZBLANK = this). */
export const NULL_VALUE = -2147483647;

let randoms: Float32Array | undefined;
/** The same values widened to double (exact), which the hot loop reads faster. */
let randoms64: Float64Array | undefined;

/**
 * The standard's 10,000 dither randoms (FITS 4.0, 10.2.1): Park-Miller,
 * a = 16807, m = 2^31 - 1, seed 1, each seed/m computed in double and stored as
 * float. The standard's check: the seed after the 10,000th draw is 1043618065.
 * Computed once and cached; the returned array is shared, do not modify it.
 */
export function ditherRandoms(): Float32Array {
  if (randoms) return randoms;
  const a = 16807;
  const m = 2147483647;
  const r = new Float32Array(N_RANDOM);
  let seed = 1;
  for (let i = 0; i < N_RANDOM; i++) {
    // a * seed < 2^46: exact in double, as in the standard's double arithmetic.
    const temp = a * seed;
    seed = temp - m * Math.trunc(temp / m);
    r[i] = seed / m;
  }
  if (seed !== 1043618065) throw new Error(`dither random generator check failed: ${seed}`);
  randoms = r;
  return r;
}

function ditherRandoms64(): Float64Array {
  return (randoms64 ??= Float64Array.from(ditherRandoms()));
}

/**
 * Unquantises one tile: the n = ints.length integers of the tile, in tile
 * order (x fastest), are written to out[0..n) in the same order; the caller
 * scatters them into the image (edge tiles are simply smaller). `out` may be a
 * view (subarray) of a reusable buffer and must hold at least n values.
 * tileRow is the 1-based row of the tile in the compressed table (it seeds the
 * dither). Throws ImagingError when ZDITHER0 or the tile row is not an integer.
 */
export function unquantizeTile(ints: Int32Array, out: Float32Array | Float64Array, tileRow: number, p: QuantizeParams): void {
  const n = ints.length;
  if (out.length < n) throw new RangeError(`unquantizeTile: out holds ${out.length} values, the tile has ${n}`);
  const { zscale, zzero } = p;
  // A ZBLANK that no int32 can equal simply never matches.
  const zblank = p.zblank ?? 0;
  const hasNull = p.zblank !== undefined;

  if (p.method === 'NO_DITHER') {
    for (let i = 0; i < n; i++) {
      const v = ints[i];
      out[i] = hasNull && v === zblank ? NaN : v * zscale + zzero;
    }
    return;
  }

  if (!Number.isSafeInteger(tileRow) || tileRow < 1) throw new ImagingError(`tile row ${tileRow} is not a positive integer`);
  if (!Number.isSafeInteger(p.zdither0)) throw new ImagingError(`ZDITHER0 ${p.zdither0} is not an integer`, { field: 'ZDITHER0' });
  const rnd = ditherRandoms64();
  const dither2 = p.method === 'SUBTRACTIVE_DITHER_2';
  let iseed = (((tileRow - 1 + p.zdither0 - 1) % N_RANDOM) + N_RANDOM) % N_RANDOM;
  let k = Math.trunc(rnd[iseed] * 500);
  let i = 0;
  while (i < n) {
    // Pixels up to the next wrap of k; k advances for every pixel, null and
    // zero ones included.
    const stop = Math.min(n, i + (N_RANDOM - k));
    if (!hasNull && !dither2) {
      for (; i < stop; i++, k++) out[i] = (ints[i] - rnd[k] + 0.5) * zscale + zzero;
    } else {
      for (; i < stop; i++, k++) {
        const v = ints[i];
        out[i] = hasNull && v === zblank ? NaN : dither2 && v === ZERO_VALUE ? 0 : (v - rnd[k] + 0.5) * zscale + zzero;
      }
    }
    if (k === N_RANDOM) {
      if (++iseed === N_RANDOM) iseed = 0;
      k = Math.trunc(rnd[iseed] * 500);
    }
  }
}
