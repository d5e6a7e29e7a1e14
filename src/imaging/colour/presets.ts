import { ImagingError, type ImagePlane, type Raster8 } from '../types.js';
import { luptonGrey, luptonRgb, type LuptonParams } from './lupton.js';
import { autoLuptonParams } from './auto.js';
import { zscaleInterval } from './zscale.js';

export type ColourPreset = 'auto' | 'lupton' | 'legacy-survey' | 'linear';
export const COLOUR_PRESETS: readonly ColourPreset[] = ['auto', 'lupton', 'legacy-survey', 'linear'];

export interface ColourOptions {
  preset: ColourPreset;
  minimum?: number | [number, number, number];
  stretch?: number;
  Q?: number;
  /** legacy-survey: per-channel multipliers (R, G, B) applied to the data. */
  scales?: [number, number, number];
}

/**
 * Legacy Survey sdss_rgb scales are for nanomaggies (g 6.0, r 3.4, z 2.2);
 * Rubin coadds are in nJy (1 nanomaggy = 3631 nJy). R, G, B = i, r, g here,
 * with i between the survey's r and z values.
 */
export const LEGACY_SURVEY_NJY_SCALES: [number, number, number] = [2.5 / 3631, 3.4 / 3631, 6.0 / 3631];

/** Renders 1 (grey) or 3 (R, G, B) planes; returns the resolved parameters for provenance. */
export function renderColour(planes: ImagePlane[], opts: ColourOptions): { raster: Raster8; params: Record<string, unknown> } {
  if (planes.length !== 1 && planes.length !== 3) throw new ImagingError(`need 1 or 3 planes, got ${planes.length}`, { field: 'bands' });
  switch (opts.preset) {
    case 'auto': {
      const p = autoLuptonParams(planes, opts.Q === undefined ? {} : { Q: opts.Q });
      return { raster: lupton(planes, p), params: { preset: 'auto', ...p } };
    }
    case 'lupton': {
      const m = opts.minimum ?? 0;
      const p: LuptonParams = { minimum: typeof m === 'number' ? [m, m, m] : m, stretch: opts.stretch ?? 5, Q: opts.Q ?? 8 };
      return { raster: lupton(planes, p), params: { preset: 'lupton', ...p } };
    }
    case 'legacy-survey':
      return legacySurvey(planes, opts);
    case 'linear':
      return linear(planes, opts);
    default:
      throw new ImagingError(`unknown colour preset "${String(opts.preset)}": use one of ${COLOUR_PRESETS.join(', ')}`, { field: 'preset' });
  }
}

function lupton(planes: ImagePlane[], p: LuptonParams): Raster8 {
  return planes.length === 3 ? luptonRgb(planes[0], planes[1], planes[2], p) : luptonGrey(planes[0], { minimum: p.minimum[0], stretch: p.stretch, Q: p.Q });
}

/** [0, 1] -> 0..255 by truncation, as astropy's 8-bit conversion does; NaN is black. */
function toBytes(v: number): number {
  return v > 0 ? (v >= 1 ? 255 : Math.floor(v * 255)) : 0;
}

/** Legacy Survey sdss_rgb: I = mean(max(0, x s + m)), f = asinh(Q I)/sqrt(Q), rgb = (x s + m) f / I. */
function legacySurvey(planes: ImagePlane[], opts: ColourOptions): { raster: Raster8; params: Record<string, unknown> } {
  const Q = opts.Q ?? 20;
  const m = typeof opts.minimum === 'number' ? opts.minimum : 0.03;
  const scales = opts.scales ?? (planes.length === 3 ? LEGACY_SURVEY_NJY_SCALES : [LEGACY_SURVEY_NJY_SCALES[1], 0, 0]);
  const k = planes.length;
  const n = planes[0].width * planes[0].height;
  const out = new Uint8Array(k * n);
  const sq = Math.sqrt(Q);
  const v = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    let I = 0;
    for (let c = 0; c < k; c++) {
      const x = planes[c].data[i];
      v[c] = (x === x ? x : 0) * scales[c] + m;
      I += Math.max(0, v[c]);
    }
    I /= k;
    const H = I > 0 ? Math.asinh(Q * I) / sq / I : 0;
    for (let c = 0; c < k; c++) out[k * i + c] = toBytes(v[c] * H);
  }
  return { raster: { width: planes[0].width, height: planes[0].height, channels: k as 1 | 3, data: out }, params: { preset: 'legacy-survey', Q, minimum: m, scales } };
}

/** Each band linearly from its zscale interval (or the given minimum .. minimum + stretch). */
function linear(planes: ImagePlane[], opts: ColourOptions): { raster: Raster8; params: Record<string, unknown> } {
  const k = planes.length;
  const n = planes[0].width * planes[0].height;
  const limits = planes.map((p, c) => {
    if (opts.stretch !== undefined) {
      const lo = typeof opts.minimum === 'number' ? opts.minimum : (opts.minimum?.[c] ?? 0);
      return [lo, lo + opts.stretch] as [number, number];
    }
    const z = zscaleInterval(p.data) ?? [0, 1];
    return (z[1] > z[0] ? z : [z[0], z[0] + 1]) as [number, number];
  });
  const out = new Uint8Array(k * n);
  for (let c = 0; c < k; c++) {
    const [lo, hi] = limits[c];
    const d = planes[c].data;
    const inv = 1 / (hi - lo);
    for (let i = 0; i < n; i++) out[k * i + c] = toBytes((d[i] - lo) * inv);
  }
  return { raster: { width: planes[0].width, height: planes[0].height, channels: k as 1 | 3, data: out }, params: { preset: 'linear', limits } };
}
