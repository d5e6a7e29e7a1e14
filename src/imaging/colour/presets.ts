import { ImagingError, type ImagePlane, type Raster8 } from '../types.js';
import { asinhPositive, checkSameShape, luptonGrey, luptonRgb, type LuptonParams } from './lupton.js';
import { autoLuptonGreyParams, autoLuptonParams } from './auto.js';
import { zscaleInterval } from './zscale.js';
import { isRubinBand, syntheticGreen, type RubinBand } from './bands.js';
import { skyAsinh } from './sky-asinh.js';
import { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET, type ColourPreset } from './preset-names.js';

export { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET, type ColourPreset };

/**
 * How to turn planes into colours. `minimum` is always a data value (per
 * band, or one for all) that renders black.
 * - sky-asinh (the default): per-band sky subtraction at the sigma-clipped
 *   median, one noise-based asinh softening for all bands (so the sky is dark
 *   and neutral), Lupton's colour-preserving scaling, white point at the
 *   central object's brightest channel (see sky-asinh.ts). No option applies.
 * - auto: astropy AsinhZScaleMapping (minimum and stretch from zscale of the
 *   intensity), Q default 8. No other option applies.
 * - lupton: astropy make_lupton_rgb with minimum (default 0), stretch
 *   (default 5) and Q (default 8), astropy's defaults.
 * - legacy-survey: the Legacy Survey sdss_rgb recipe (see legacySurvey) with
 *   Q (default 20), per-band `scales` (default LEGACY_SURVEY_NJY_SCALES for
 *   `bands`), and m = 0.03 unless `minimum` is given (then m_c = -minimum_c *
 *   scale_c, so the minimum renders black as in the other presets).
 * - linear: per band, minimum .. minimum + stretch to 0 .. 255; without them,
 *   each band's zscale interval.
 */
export interface ColourOptions {
  preset: ColourPreset;
  minimum?: [number, number, number] | number;
  stretch?: number;
  Q?: number;
  /** legacy-survey: per-channel multipliers (R, G, B; the first for one plane) applied to the data. */
  scales?: [number, number, number];
  /**
   * Band of each plane (same order as the planes), used for per-band
   * defaults (legacy-survey scales) and recorded in the parameters. Without
   * it 3 planes are taken as i, r, g, 2 as r, g and 1 as r.
   */
  bands?: string[];
}

/**
 * Legacy Survey scales (DR viewer: g 6.0, r 3.4, z 2.2; legacypipe's sdss_rgb
 * adds i 3.0) are per nanomaggy; Rubin coadds are in nJy and 1 nanomaggy =
 * 3631 nJy exactly (AB zero point 3631 Jy), so each scale is divided by 3631.
 * Why not scales from the data's noise: the recipe's value is that the same
 * flux gets the same colour and brightness in every stamp (and as in the
 * Legacy Survey viewer volunteers know), which per-stamp noise scaling would
 * lose. What it does to the sky: a DECaLS coadd's per-pixel noise (~25 nJy,
 * 0.007 nanomaggy, in g) scales to ~0.04, about m = 0.03, so the sky is a
 * visible grain; a Rubin coadd's (~1-15 nJy depending on depth) scales to
 * 0.002-0.025, so deeper Rubin stamps show a darker, smoother sky at the same
 * colour balance. Raise `scales` (e.g. x3) for shallow data to see more.
 * u and y have no Legacy Survey value: u takes the SDSS recipe's u/g ratio
 * (1.5/2.5) of g, y takes z's.
 */
export const LEGACY_SURVEY_NJY_SCALES: Readonly<Record<RubinBand, number>> = {
  u: (6.0 * 0.6) / 3631,
  g: 6.0 / 3631,
  r: 3.4 / 3631,
  i: 3.0 / 3631,
  z: 2.2 / 3631,
  y: 2.2 / 3631,
};
export const LEGACY_SURVEY_Q = 20;
/** m = 0.03 is what accompanies these scales (legacypipe, the viewer's DR recipe); 0.02 goes with the older SDSS-style scales. */
export const LEGACY_SURVEY_M = 0.03;

const ASSUMED_BANDS: Record<number, string[]> = { 1: ['r'], 2: ['r', 'g'], 3: ['i', 'r', 'g'] };

export interface RenderedColour {
  raster: Raster8;
  /** The resolved parameters, for provenance. */
  params: Record<string, unknown>;
}

/**
 * Renders planes to 8 bits: 1 plane gives grey, 3 give R, G, B, and 2 give
 * R = first (redder), B = second (bluer) and G = their mean (syntheticGreen),
 * as defaultChannelOrder orders two bands.
 */
export function renderColour(planes: ImagePlane[], opts: ColourOptions): RenderedColour {
  if (planes.length < 1 || planes.length > 3) throw new ImagingError(`need 1, 2 or 3 planes, got ${planes.length}`, { field: 'bands' });
  checkSameShape(planes);
  if (opts.bands !== undefined && opts.bands.length !== planes.length) {
    throw new ImagingError(`${opts.bands.length} band names for ${planes.length} planes`, { field: 'bands' });
  }
  const preset = opts.preset ?? DEFAULT_COLOUR_PRESET;
  checkOptions(preset, opts);
  const bands = opts.bands ?? ASSUMED_BANDS[planes.length];
  const extra: Record<string, unknown> = { bands, ...(opts.bands ? {} : { bandsAssumed: true }) };
  let channels = planes;
  if (planes.length === 2) {
    channels = [planes[0], syntheticGreen(planes[0], planes[1]), planes[1]];
    extra.green = `mean of ${bands[0]} and ${bands[1]}`;
  }
  switch (preset) {
    case 'sky-asinh': {
      const { raster, params } = skyAsinh(channels);
      return withParams({ raster, params: { preset: 'sky-asinh', ...params } }, extra);
    }
    case 'auto':
      return withParams(auto(channels, opts), extra);
    case 'lupton':
      return withParams(lupton(channels, opts), extra);
    case 'legacy-survey':
      return withParams(legacySurvey(channels, bands, opts), extra);
    case 'linear':
      return withParams(linear(channels, opts), extra);
    default:
      throw new ImagingError(`unknown colour preset "${String(preset)}": use one of ${COLOUR_PRESETS.join(', ')}`, { field: 'preset' });
  }
}

function withParams(r: RenderedColour, extra: Record<string, unknown>): RenderedColour {
  return { raster: r.raster, params: { ...r.params, ...extra } };
}

/** Options that a preset does not use are refused rather than silently ignored. */
function checkOptions(preset: ColourPreset, o: ColourOptions): void {
  const used: Record<ColourPreset, (keyof ColourOptions)[]> = {
    'sky-asinh': [],
    auto: ['Q'],
    lupton: ['minimum', 'stretch', 'Q'],
    'legacy-survey': ['minimum', 'Q', 'scales'],
    linear: ['minimum', 'stretch'],
  };
  const allowed = used[preset];
  if (allowed) {
    for (const key of ['minimum', 'stretch', 'Q', 'scales'] as const) {
      if (o[key] !== undefined && !allowed.includes(key)) throw new ImagingError(`the ${preset} preset takes no ${key}`, { field: key });
    }
  }
  if (o.minimum !== undefined) {
    const ok = typeof o.minimum === 'number' ? Number.isFinite(o.minimum) : Array.isArray(o.minimum) && o.minimum.length === 3 && o.minimum.every(Number.isFinite);
    if (!ok) throw new ImagingError(`minimum must be a finite number or three, got ${JSON.stringify(o.minimum)}`, { field: 'minimum' });
  }
  if (o.stretch !== undefined && !(Number.isFinite(o.stretch) && o.stretch > 0)) {
    throw new ImagingError(`stretch must be a finite number > 0, got ${o.stretch}`, { field: 'stretch' });
  }
  if (o.Q !== undefined && !(Number.isFinite(o.Q) && o.Q >= 0)) throw new ImagingError(`Q must be a finite number >= 0, got ${o.Q}`, { field: 'Q' });
  if (o.scales !== undefined && !(Array.isArray(o.scales) && o.scales.length === 3 && o.scales.every((s) => Number.isFinite(s) && s > 0))) {
    throw new ImagingError(`scales must be three finite numbers > 0, got ${JSON.stringify(o.scales)}`, { field: 'scales' });
  }
}

function triple(m: number | [number, number, number]): [number, number, number] {
  return typeof m === 'number' ? [m, m, m] : [m[0], m[1], m[2]];
}

/** One plane: a single minimum; three differing values make no sense for grey. */
function greyMinimum(m: number | [number, number, number]): number {
  if (typeof m === 'number') return m;
  if (m[0] === m[1] && m[1] === m[2]) return m[0];
  throw new ImagingError(`one band takes one minimum, got ${JSON.stringify(m)}`, { field: 'minimum' });
}

function auto(planes: ImagePlane[], opts: ColourOptions): RenderedColour {
  const Q = opts.Q ?? 8;
  if (planes.length === 1) {
    const p = autoLuptonGreyParams(planes[0], { Q });
    return { raster: luptonGrey(planes[0], p), params: { preset: 'auto', ...p, zscale: { nSamples: 1000, contrast: 0.25 } } };
  }
  const p = autoLuptonParams(planes[0], planes[1], planes[2], { Q });
  return { raster: luptonRgb(planes[0], planes[1], planes[2], p), params: { preset: 'auto', ...p, zscale: { nSamples: 1000, contrast: 0.25 } } };
}

function lupton(planes: ImagePlane[], opts: ColourOptions): RenderedColour {
  const stretch = opts.stretch ?? 5;
  const Q = opts.Q ?? 8;
  const m = opts.minimum ?? 0;
  if (planes.length === 1) {
    const p = { minimum: greyMinimum(m), stretch, Q };
    return { raster: luptonGrey(planes[0], p), params: { preset: 'lupton', ...p } };
  }
  const p: LuptonParams = { minimum: triple(m), stretch, Q };
  return { raster: luptonRgb(planes[0], planes[1], planes[2], p), params: { preset: 'lupton', ...p } };
}

/**
 * Legacy Survey sdss_rgb, per channel c with data X_c:
 *   v_c = X_c * scale_c + m_c,  I = mean_c max(0, v_c),
 *   out_c = clip(v_c * asinh(Q I) / sqrt(Q) / I, 0, 1)  (0 where I = 0),
 *   byte = floor(255 out_c)  (matplotlib's float-to-uint8).
 * An undefined pixel (NaN) in a band contributes nothing: v_c = 0 there, so a
 * pixel undefined in every band is black like in the other presets (the
 * recipe itself has no notion of undefined pixels).
 */
function legacySurvey(planes: ImagePlane[], bands: string[], opts: ColourOptions): RenderedColour {
  const Q = opts.Q ?? LEGACY_SURVEY_Q;
  const k = planes.length;
  let scales: number[];
  if (opts.scales) {
    scales = k === 1 ? [opts.scales[0]] : [...opts.scales];
  } else {
    const per = bands.map((b) => {
      if (!isRubinBand(b)) throw new ImagingError(`no default legacy-survey scale for band "${b}"; give scales`, { field: 'scales' });
      return LEGACY_SURVEY_NJY_SCALES[b];
    });
    // Two bands: the synthetic green's scale is the mean of its sources'.
    scales = k === 3 && per.length === 2 ? [per[0], (per[0] + per[1]) / 2, per[1]] : per;
  }
  const mins = opts.minimum === undefined ? undefined : k === 1 ? [greyMinimum(opts.minimum)] : triple(opts.minimum);
  const m = scales.map((s, c) => (mins ? -mins[c] * s : LEGACY_SURVEY_M));
  const n = planes[0].width * planes[0].height;
  const out = new Uint8Array(k * n);
  const invSqrtQ = 1 / Math.sqrt(Q);
  // Q = 0 would make asinh(Q I)/sqrt(Q) 0/0; its limit is I, i.e. f = 1.
  const gain = (I: number) => (Q > 0 ? asinhPositive(Q * I) * invSqrtQ / I : 1);
  if (k === 1) {
    const d = planes[0].data;
    const [s0, m0] = [scales[0], m[0]];
    for (let i = 0; i < n; i++) {
      const x = d[i];
      const v = x - x === 0 ? x * s0 + m0 : 0;
      out[i] = v > 0 ? toByte(v * gain(v)) : 0;
    }
  } else {
    const [d0, d1, d2] = [planes[0].data, planes[1].data, planes[2].data];
    const [s0, s1, s2] = scales;
    const [m0, m1, m2] = m;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const x0 = d0[i];
      const x1 = d1[i];
      const x2 = d2[i];
      const v0 = x0 - x0 === 0 ? x0 * s0 + m0 : 0;
      const v1 = x1 - x1 === 0 ? x1 * s1 + m1 : 0;
      const v2 = x2 - x2 === 0 ? x2 * s2 + m2 : 0;
      const I = ((v0 > 0 ? v0 : 0) + (v1 > 0 ? v1 : 0) + (v2 > 0 ? v2 : 0)) / 3;
      const f = I > 0 ? gain(I) : 0;
      out[o] = toByte(v0 * f);
      out[o + 1] = toByte(v1 * f);
      out[o + 2] = toByte(v2 * f);
    }
  }
  const raster: Raster8 = { width: planes[0].width, height: planes[0].height, channels: k === 1 ? 1 : 3, data: out };
  return { raster, params: { preset: 'legacy-survey', Q, m, scales, scalesUnit: opts.scales ? 'given' : 'per nJy' } };
}

/**
 * Each band linearly: lo .. hi to 0 .. 255, truncating like the others.
 * lo = minimum (or the band's zscale lower limit), hi = lo + stretch (or the
 * zscale upper limit). A band with no usable interval (flat or undefined)
 * falls back to its data range, or to lo .. lo + 1.
 */
function linear(planes: ImagePlane[], opts: ColourOptions): RenderedColour {
  const k = planes.length;
  const n = planes[0].width * planes[0].height;
  const mins = opts.minimum === undefined ? undefined : k === 1 ? [greyMinimum(opts.minimum)] : triple(opts.minimum);
  const limits = planes.map((p, c) => {
    const needZ = mins === undefined || opts.stretch === undefined;
    const z = needZ ? zscaleInterval(p.data) : [NaN, NaN];
    const lo = mins ? mins[c] : z[0];
    const hi = opts.stretch !== undefined ? lo + opts.stretch : z[1];
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) return fallbackRange(p, lo);
    return [lo, hi] as [number, number];
  });
  const out = new Uint8Array(k * n);
  for (let c = 0; c < k; c++) {
    const [lo, hi] = limits[c];
    const d = planes[c].data;
    const range = hi - lo;
    // (x - lo) * 255 / range: exact bytes where the mapping is exact (x - lo = range * k / 255).
    for (let i = 0; i < n; i++) {
      const v = ((d[i] - lo) * 255) / range;
      out[k * i + c] = v > 0 ? (v >= 255 ? 255 : Math.floor(v)) : 0;
    }
  }
  const raster: Raster8 = { width: planes[0].width, height: planes[0].height, channels: k === 1 ? 1 : 3, data: out };
  return { raster, params: { preset: 'linear', limits } };
}

function fallbackRange(p: ImagePlane, lo: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < p.data.length; i++) {
    const v = p.data[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const l = Number.isFinite(lo) ? lo : Number.isFinite(min) ? min : 0;
  return max > l ? [l, max] : [l, l + 1];
}

/** 0..1 to a byte by truncation (floor(255 v)), clipping; NaN to 0. */
function toByte(v: number): number {
  return v > 0 ? (v >= 1 ? 255 : Math.floor(v * 255)) : 0;
}
