import { ImagingError, type ImagePlane, type PixelArray } from '../types.js';
import type { LuptonGreyParams, LuptonParams } from './lupton.js';
import { checkSameShape } from './lupton.js';
import { zscaleInterval, type ZScaleOptions } from './zscale.js';

/**
 * Lupton parameters from the data, as astropy 5.2's AsinhZScaleMapping(r, g,
 * b, Q, pedestal): the intensity (r + g + b) / 3 (pedestal subtracted from
 * each band first), its zscale interval [z1, z2], then (through LinearMapping)
 * minimum = z1 + pedestal_c for each band and stretch = z2 - z1. Rubin
 * coadds in nJy differ by orders of magnitude from field to field, which is
 * why this, not a fixed stretch, is the default.
 *
 * Undefined (NaN) pixels make the intensity NaN and zscale skips them, so they
 * do not move the limits. astropy raises on a flat sample (z1 == z2) and
 * fails on an empty one; we fall back instead (see fallbackLimits) and say so
 * in `fallback`, so a blank or constant stamp renders (black) rather than
 * failing a whole set.
 */
export interface AutoOptions {
  Q?: number;
  pedestal?: [number, number, number];
  zscale?: Partial<ZScaleOptions>;
}

export interface AutoLuptonParams extends LuptonParams {
  /** Why the zscale interval was not used, when it was not. */
  fallback?: string;
}

export interface AutoLuptonGreyParams extends LuptonGreyParams {
  fallback?: string;
}

export function autoLuptonParams(r: ImagePlane, g: ImagePlane, b: ImagePlane, opts: AutoOptions = {}): AutoLuptonParams {
  checkSameShape([r, g, b]);
  const Q = opts.Q ?? 8;
  const ped = opts.pedestal ?? [0, 0, 0];
  if (ped.length !== 3 || ped.some((v) => !Number.isFinite(v))) {
    throw new ImagingError(`pedestal must be three finite numbers, got ${JSON.stringify(ped)}`, { field: 'pedestal' });
  }
  const intensity = intensityOf(r.data, g.data, b.data, ped);
  const { minimum, stretch, fallback } = limitsToParams(intensity, opts.zscale);
  const out: AutoLuptonParams = { minimum: [minimum + ped[0], minimum + ped[1], minimum + ped[2]], stretch, Q };
  if (fallback) out.fallback = fallback;
  return out;
}

/** One band: astropy's AsinhZScaleMapping(image), whose intensity is the image itself. */
export function autoLuptonGreyParams(plane: ImagePlane, opts: { Q?: number; pedestal?: number; zscale?: Partial<ZScaleOptions> } = {}): AutoLuptonGreyParams {
  checkSameShape([plane]);
  const Q = opts.Q ?? 8;
  const ped = opts.pedestal ?? 0;
  if (!Number.isFinite(ped)) throw new ImagingError(`pedestal must be a finite number, got ${ped}`, { field: 'pedestal' });
  let data = plane.data;
  if (ped !== 0) {
    const d = plane.data;
    const f32 = d instanceof Float32Array;
    data = f32 ? new Float32Array(d.length) : new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) data[i] = d[i] - ped;
  }
  const { minimum, stretch, fallback } = limitsToParams(data, opts.zscale);
  const out: AutoLuptonGreyParams = { minimum: minimum + ped, stretch, Q };
  if (fallback) out.fallback = fallback;
  return out;
}

/**
 * numpy keeps the intensity of float32 bands in float32 ((r + g + b) / 3.0
 * rounded at each step, and pedestals subtracted in float32), and zscale sees
 * those values; we round the same way so the sample and the limits agree.
 */
function intensityOf(r: PixelArray, g: PixelArray, b: PixelArray, ped: [number, number, number]): PixelArray {
  const n = r.length;
  if (r instanceof Float32Array && g instanceof Float32Array && b instanceof Float32Array) {
    const f = Math.fround;
    const [pr, pg, pb] = [f(ped[0]), f(ped[1]), f(ped[2])];
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f(f(f(r[i] - pr) + f(g[i] - pg)) + f(b[i] - pb)) / 3;
    return out;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r[i] - ped[0] + (g[i] - ped[1]) + (b[i] - ped[2])) / 3;
  return out;
}

function limitsToParams(data: PixelArray, zopts: Partial<ZScaleOptions> | undefined): { minimum: number; stretch: number; fallback?: string } {
  const [z1, z2] = zscaleInterval(data, zopts);
  if (Number.isFinite(z1) && Number.isFinite(z2) && z2 > z1) {
    // When both limits are sample values of a float32 image astropy subtracts
    // them as numpy float32 scalars, rounding the stretch to float32.
    const f32 = data instanceof Float32Array && Math.fround(z1) === z1 && Math.fround(z2) === z2;
    return { minimum: z1, stretch: f32 ? Math.fround(z2 - z1) : z2 - z1 };
  }
  return fallbackLimits(data, z1);
}

/**
 * A flat sample (z1 == z2) or no finite value at all. The data's own range
 * (what astropy's LinearMapping uses when given no limits) is tried next; if
 * that is flat too, every defined pixel equals the minimum and renders black
 * whatever the stretch, so stretch = 1.
 */
function fallbackLimits(data: PixelArray, z1: number): { minimum: number; stretch: number; fallback: string } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return { minimum: 0, stretch: 1, fallback: 'no defined pixels' };
  const minimum = Number.isFinite(z1) ? z1 : lo;
  if (hi > minimum) return { minimum, stretch: hi - minimum, fallback: 'zscale interval empty; used the data maximum' };
  return { minimum, stretch: 1, fallback: 'flat image' };
}
