import type { ImagePlane } from '../types.js';
import type { LuptonParams } from './lupton.js';
import { zscaleInterval } from './zscale.js';

/**
 * Lupton parameters from the data, as astropy's AsinhZScaleMapping: the
 * zscale interval [z1, z2] of the intensity (mean of the bands) gives
 * minimum = z1 for every band and stretch = z2 - z1. Rubin coadds in nJy
 * differ by orders of magnitude from field to field, which is why this, not
 * a fixed stretch, is the default.
 */
export function autoLuptonParams(planes: ImagePlane[], opts: { Q?: number; pedestal?: [number, number, number] } = {}): LuptonParams {
  const Q = opts.Q ?? 8;
  const ped = opts.pedestal ?? [0, 0, 0];
  const n = planes[0].width * planes[0].height;
  const f32 = planes.every((p) => p.data instanceof Float32Array);
  // astropy computes the intensity in the images' own precision.
  const intensity = f32 ? new Float32Array(n) : new Float64Array(n);
  const k = planes.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) s = f32 ? Math.fround(s + (planes[c].data[i] - ped[c])) : s + (planes[c].data[i] - ped[c]);
    intensity[i] = k === 1 ? s : s / 3;
  }
  const z = zscaleInterval(intensity);
  let [z1, z2] = z ?? [0, 1];
  // A flat or empty image has no interval; any positive stretch renders it black or uniform.
  if (!(z2 > z1)) {
    z2 = z1 + 1;
  }
  return { minimum: [z1 + ped[0], z1 + ped[1], z1 + ped[2]], stretch: z2 - z1, Q };
}
