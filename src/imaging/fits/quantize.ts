/**
 * Restoring quantised floating-point tiles (FITS standard 4.0, 10.2 and
 * 10.3): value = (i - r + 0.5) * ZSCALE + ZZERO for subtractive dithering,
 * i * ZSCALE + ZZERO without it; r comes from the standard's sequence of
 * 10,000 pseudo-random numbers, re-seeded per tile from ZDITHER0 and the tile
 * number, so the values equal what cfitsio and astropy read.
 */

export type QuantizeMethod = 'NO_DITHER' | 'SUBTRACTIVE_DITHER_1' | 'SUBTRACTIVE_DITHER_2';

export interface QuantizeParams {
  method: QuantizeMethod;
  zdither0: number;
  zscale: number;
  zzero: number;
  /** Integer that marks an undefined pixel (decoded as NaN). */
  zblank?: number;
}

const N_RANDOM = 10000;
/** SUBTRACTIVE_DITHER_2 writes exact zeros as this integer (cfitsio's ZERO_VALUE). */
export const ZERO_VALUE = -2147483646;
/** The integer cfitsio writes for undefined pixels of quantised tiles (its NULL_VALUE). */
export const NULL_VALUE = -2147483647;

let randoms: Float32Array | undefined;

/** The standard's sequence: Park-Miller (a = 16807, m = 2^31 - 1) from seed 1, as float. */
export function ditherRandoms(): Float32Array {
  if (randoms) return randoms;
  const a = 16807;
  const m = 2147483647;
  let seed = 1;
  const r = new Float32Array(N_RANDOM);
  for (let i = 0; i < N_RANDOM; i++) {
    const temp = a * seed;
    seed = temp - m * Math.trunc(temp / m);
    r[i] = seed / m;
  }
  // The standard gives the seed after 10,000 draws as a check of the generator.
  if (seed !== 1043618065) throw new Error('dither random generator check failed');
  randoms = r;
  return r;
}

/**
 * Unquantises one tile of n = ints.length pixels into out[0..n), in tile
 * order. tileNumber is the 1-based row of the tile in the compressed table.
 */
export function unquantizeTile(ints: Int32Array, out: Float32Array | Float64Array, tileNumber: number, p: QuantizeParams): void {
  const n = ints.length;
  const { zscale, zzero, zblank } = p;
  const hasNull = zblank !== undefined;
  if (p.method === 'NO_DITHER') {
    for (let i = 0; i < n; i++) {
      const v = ints[i];
      out[i] = hasNull && v === zblank ? NaN : v * zscale + zzero;
    }
    return;
  }
  const rnd = ditherRandoms();
  const dither2 = p.method === 'SUBTRACTIVE_DITHER_2';
  let iseed = (((tileNumber - 1 + p.zdither0 - 1) % N_RANDOM) + N_RANDOM) % N_RANDOM;
  let next = Math.trunc(rnd[iseed] * 500);
  for (let i = 0; i < n; i++) {
    const v = ints[i];
    if (hasNull && v === zblank) out[i] = NaN;
    else if (dither2 && v === ZERO_VALUE) out[i] = 0;
    else out[i] = (v - rnd[next] + 0.5) * zscale + zzero;
    // The sequence advances for every pixel, null and zero ones included.
    next++;
    if (next === N_RANDOM) {
      iseed++;
      if (iseed === N_RANDOM) iseed = 0;
      next = Math.trunc(rnd[iseed] * 500);
    }
  }
}
