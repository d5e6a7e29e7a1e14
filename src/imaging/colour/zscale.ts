import type { PixelArray } from '../types.js';

/**
 * IRAF's zscale interval as astropy's ZScaleInterval.get_limits computes it:
 * finite values only, every stride-th value up to n_samples, a line fitted to
 * the sorted sample with iterative k-sigma rejection (rejected points grown
 * by 1% of the sample), and the limits median -/+ slope/contrast spans.
 */
export interface ZScaleOptions {
  nSamples: number;
  contrast: number;
  maxReject: number;
  minNpixels: number;
  krej: number;
  maxIterations: number;
}

export const ZSCALE_DEFAULTS: ZScaleOptions = { nSamples: 1000, contrast: 0.25, maxReject: 0.5, minNpixels: 5, krej: 2.5, maxIterations: 5 };

/** Returns undefined when there is no finite value at all. */
export function zscaleInterval(data: PixelArray | number[], options: Partial<ZScaleOptions> = {}): [number, number] | undefined {
  const o = { ...ZSCALE_DEFAULTS, ...options };
  let finite = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) finite++;
  if (finite === 0) return undefined;
  const stride = Math.trunc(Math.max(1, finite / o.nSamples));
  const samples: number[] = [];
  // Stride over the finite values only, as astropy filters before striding.
  for (let i = 0, k = 0; i < data.length && samples.length < o.nSamples; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    if (k % stride === 0) samples.push(v);
    k++;
  }
  samples.sort((a, b) => a - b);
  const npix = samples.length;
  let vmin = samples[0];
  let vmax = samples[npix - 1];
  const minpix = Math.max(o.minNpixels, Math.trunc(npix * o.maxReject));
  const ngrow = Math.max(1, Math.trunc(npix * 0.01));
  let bad = new Uint8Array(npix);
  let ngood = npix;
  let lastNgood = npix + 1;
  let slope = 0;
  let fitted = false;
  for (let it = 0; it < o.maxIterations; it++) {
    if (ngood >= lastNgood || ngood < minpix) break;
    // Least-squares line through the good points (0/1 weights).
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
      sxx += (i - mx) * (i - mx);
      sxy += (i - mx) * (samples[i] - my);
    }
    slope = sxx > 0 ? sxy / sxx : 0;
    const intercept = my - slope * mx;
    fitted = true;
    // Population standard deviation of the residuals of the good points.
    const flat = new Float64Array(npix);
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
    // np.convolve(bad, ones(ngrow), mode="same") on booleans: OR over a window.
    const off = Math.trunc((ngrow - 1) / 2);
    const grown = new Uint8Array(npix);
    for (let i = 0; i < npix; i++) {
      const lo = Math.max(0, i + off - ngrow + 1);
      const hi = Math.min(npix - 1, i + off);
      for (let j = lo; j <= hi; j++) {
        if (bad[j]) {
          grown[i] = 1;
          break;
        }
      }
    }
    bad = grown;
    lastNgood = ngood;
    ngood = 0;
    for (let i = 0; i < npix; i++) if (!bad[i]) ngood++;
  }
  if (fitted && ngood >= minpix) {
    if (o.contrast > 0) slope /= o.contrast;
    const center = Math.trunc((npix - 1) / 2);
    const median = npix % 2 ? samples[(npix - 1) / 2] : (samples[npix / 2 - 1] + samples[npix / 2]) / 2;
    vmin = Math.max(vmin, median - (center - 1) * slope);
    vmax = Math.min(vmax, median + (npix - center) * slope);
  }
  return [vmin, vmax];
}
