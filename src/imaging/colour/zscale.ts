import type { PixelArray } from '../types.js';

/**
 * IRAF's zscale interval, giving the same limits as astropy 5.2's
 * ZScaleInterval().get_limits(values):
 *
 * - only finite values take part (astropy drops NaN and ±Infinity before
 *   sampling, so NaN-marked undefined pixels need no special treatment and
 *   there is no deviation here);
 * - the sample is every stride-th finite value, stride = trunc(max(1,
 *   finite / nSamples)), cut to nSamples values, then sorted;
 * - a line is fitted to the sorted sample with iterative k-sigma rejection,
 *   rejected points being grown by a window of max(1, trunc(1% of the
 *   sample)) (numpy's convolve(..., mode="same") on booleans);
 * - if enough points survive, the limits are median -/+ the slope / contrast
 *   spans about the centre, clipped to the sample's range; otherwise the
 *   sample's minimum and maximum.
 *
 * For Float32Array input the median of an even-sized sample is averaged in
 * float32, as numpy does. The least-squares line is the closed form rather
 * than numpy's lstsq, which agrees to ~1e-15 relative.
 *
 * Unlike astropy (which fails on an empty sample) an input with no finite
 * value gives [NaN, NaN]; callers must check.
 */
export interface ZScaleOptions {
  nSamples: number;
  contrast: number;
  maxReject: number;
  minNpixels: number;
  krej: number;
  maxIterations: number;
}

export const ZSCALE_DEFAULTS: Readonly<ZScaleOptions> = { nSamples: 1000, contrast: 0.25, maxReject: 0.5, minNpixels: 5, krej: 2.5, maxIterations: 5 };

export function zscaleInterval(data: PixelArray, opts: Partial<ZScaleOptions> = {}): [number, number] {
  const o = { ...ZSCALE_DEFAULTS, ...opts };
  const samples = sample(data, o.nSamples);
  const npix = samples.length;
  if (npix === 0) return [NaN, NaN];
  samples.sort();
  let vmin = samples[0];
  let vmax = samples[npix - 1];

  const minpix = Math.max(o.minNpixels, Math.trunc(npix * o.maxReject));
  const ngrow = Math.max(1, Math.trunc(npix * 0.01));
  // Window of the "same"-mode convolution: i covers [i - before, i + after].
  const after = Math.trunc((ngrow - 1) / 2);
  const before = ngrow - 1 - after;
  let bad = new Uint8Array(npix);
  let grown = new Uint8Array(npix);
  const flat = new Float64Array(npix);
  let ngood = npix;
  let lastNgood = npix + 1;
  let slope = 0;

  for (let it = 0; it < o.maxIterations; it++) {
    if (ngood >= lastNgood || ngood < minpix) break;
    // Least squares through the good points (astropy: polyfit with 0/1 weights).
    let n = 0;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < npix; i++) {
      if (bad[i]) continue;
      n++;
      sx += i;
      sy += samples[i];
    }
    const mx = sx / n;
    const my = sy / n;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < npix; i++) {
      if (bad[i]) continue;
      const dx = i - mx;
      sxx += dx * dx;
      sxy += dx * (samples[i] - my);
    }
    slope = sxx > 0 ? sxy / sxx : 0;
    const intercept = my - slope * mx;

    // Population standard deviation of the good residuals.
    let sf = 0;
    for (let i = 0; i < npix; i++) {
      flat[i] = samples[i] - (slope * i + intercept);
      if (!bad[i]) sf += flat[i];
    }
    const mf = sf / n;
    let vf = 0;
    for (let i = 0; i < npix; i++) if (!bad[i]) vf += (flat[i] - mf) ** 2;
    const threshold = o.krej * Math.sqrt(vf / n);
    for (let i = 0; i < npix; i++) if (flat[i] < -threshold || flat[i] > threshold) bad[i] = 1;

    // Grow: OR over the window, by a running count of bad points in it.
    let inWindow = 0;
    for (let j = 0; j < Math.min(npix, after); j++) inWindow += bad[j];
    for (let i = 0; i < npix; i++) {
      const enter = i + after;
      if (enter < npix) inWindow += bad[enter];
      const leave = i - before - 1;
      if (leave >= 0) inWindow -= bad[leave];
      grown[i] = inWindow > 0 ? 1 : 0;
    }
    [bad, grown] = [grown, bad];

    lastNgood = ngood;
    ngood = 0;
    for (let i = 0; i < npix; i++) if (!bad[i]) ngood++;
  }

  // ngood < npix + 1 means at least one fit was made (minpix <= npix otherwise).
  if (ngood >= minpix && lastNgood !== npix + 1) {
    if (o.contrast > 0) slope /= o.contrast;
    const center = Math.trunc((npix - 1) / 2);
    const median = medianOfSorted(samples, data instanceof Float32Array);
    vmin = Math.max(vmin, median - (center - 1) * slope);
    vmax = Math.min(vmax, median + (npix - center) * slope);
  }
  return [vmin, vmax];
}

function sample(data: PixelArray, nSamples: number): Float64Array {
  let finite = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) finite++;
  const stride = Math.trunc(Math.max(1, finite / nSamples));
  const out = new Float64Array(Math.min(nSamples, Math.ceil(finite / stride)));
  // Stride over the finite values only: astropy filters before striding.
  for (let i = 0, k = 0, s = 0; i < data.length && s < out.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    if (k % stride === 0) out[s++] = v;
    k++;
  }
  return out;
}

function medianOfSorted(s: Float64Array, float32: boolean): number {
  const n = s.length;
  if (n % 2) return s[(n - 1) / 2];
  const a = s[n / 2 - 1];
  const b = s[n / 2];
  return float32 ? Math.fround(a + b) / 2 : (a + b) / 2;
}
