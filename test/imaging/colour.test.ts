import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImagingError, type ImagePlane, type Raster8 } from '../../src/imaging/types.js';
import { asinhPositive, luptonGrey, luptonRgb, type LuptonParams } from '../../src/imaging/colour/lupton.js';
import { zscaleInterval } from '../../src/imaging/colour/zscale.js';
import { autoLuptonGreyParams, autoLuptonParams } from '../../src/imaging/colour/auto.js';
import { renderColour, type ColourOptions } from '../../src/imaging/colour/presets.js';
import { defaultChannelOrder, parseRgbMapping, syntheticGreen } from '../../src/imaging/colour/bands.js';

// Made by test/fixtures/make_colour_fixtures.py (astropy 5.2, numpy 1.24).
const DIR = fileURLToPath(new URL('../fixtures/colour/', import.meta.url));
interface Index {
  width: number;
  height: number;
  order: string[];
  bands: Record<string, { file: string; nan: number }>;
  lupton: { name: string; file: string; dtype: 'float32' | 'float64'; minimum: [number, number, number]; stretch: number; Q: number }[];
  grey: { band: string; file: string; minimum: number; stretch: number; Q: number };
  auto: { file: string; Q: number; minimum: [number, number, number]; stretch: number };
  autoGrey: { band: string; file: string; Q: number; minimum: number; stretch: number };
  zscale: {
    band_g: [number, number];
    band_r: [number, number];
    band_i: [number, number];
    intensity: [number, number];
    big: { file: string; width: number; height: number; float32: [number, number]; float64: [number, number] };
    big_options: { options: Record<string, number>; limits: [number, number] };
    edge: Record<string, { values: (number | null)[]; limits: [number, number] }>;
  };
  vectors: { in: [number, number, number]; out: [number, number, number] }[];
}
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as Index;
const W = index.width;
const H = index.height;

function readF32(file: string): Float32Array {
  const buf = readFileSync(join(DIR, file));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(buf.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}
const readBytes = (file: string) => new Uint8Array(readFileSync(join(DIR, file)));

const band = (b: string): ImagePlane => ({ width: W, height: H, data: readF32(index.bands[b].file) });
const asF64 = (p: ImagePlane): ImagePlane => ({ ...p, data: Float64Array.from(p.data) });
const [R, G, B] = index.order.map(band);

/** |diff| <= 1 everywhere; returns the share of exactly equal bytes. */
function compare(actual: Uint8Array, expected: Uint8Array, label: string): number {
  expect(actual.length).toBe(expected.length);
  let exact = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d === 0) exact++;
    worst = Math.max(worst, d);
  }
  const share = exact / actual.length;
  console.log(`${label}: ${(100 * share).toFixed(3)}% of ${actual.length} bytes equal to astropy's, largest difference ${worst}`);
  expect(worst).toBeLessThanOrEqual(1);
  return share;
}

const px = (r: Raster8, x: number, y: number) => Array.from(r.data.subarray((y * r.width + x) * r.channels, (y * r.width + x + 1) * r.channels));
const one = (v: number, f64 = true): ImagePlane => ({ width: 1, height: 1, data: f64 ? Float64Array.of(v) : Float32Array.of(v) });

function errorOf(fn: () => unknown): ImagingError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImagingError);
    return e as ImagingError;
  }
  throw new Error('expected an ImagingError');
}

describe('luptonRgb', () => {
  // imaging.md: m = 0, s = 5, Q = 8.
  const vectors: [number[], number[]][] = [
    [[0, 0, 0], [0, 0, 0]],
    [[1, 1, 1], [43, 43, 43]],
    [[10, 10, 10], [120, 120, 120]],
    [[100, 100, 100], [200, 200, 200]],
    [[1000, 1000, 1000], [255, 255, 255]],
    [[-1, 2, 2], [0, 86, 86]],
    [[5, 0.5, 0.1], [169, 16, 3]],
  ];
  const p: LuptonParams = { minimum: [0, 0, 0], stretch: 5, Q: 8 };

  it.each(vectors)('maps %j to %j (imaging.md cross-check)', (input, expected) => {
    for (const f64 of [true, false]) {
      const out = luptonRgb(one(input[0], f64), one(input[1], f64), one(input[2], f64), p);
      expect(Array.from(out.data)).toEqual(expected);
    }
  });

  it('agrees with astropy on the same vectors (fixture)', () => {
    expect(index.vectors.map((v) => [v.in, v.out])).toEqual(vectors);
  });

  for (const set of index.lupton) {
    it(`matches astropy make_lupton_rgb, set ${set.name} (${set.dtype}, minimum ${set.minimum}, stretch ${set.stretch}, Q ${set.Q})`, () => {
      // NaN left in: our contract renders it as the minimum, which is what the
      // fixture fed astropy.
      const planes = set.dtype === 'float64' ? [R, G, B].map(asF64) : [R, G, B];
      const out = luptonRgb(planes[0], planes[1], planes[2], { minimum: set.minimum, stretch: set.stretch, Q: set.Q });
      expect(out.channels).toBe(3);
      expect(compare(out.data, readBytes(set.file), `lupton ${set.name}`)).toBeGreaterThanOrEqual(0.999);
    });
  }

  it('writes into a given buffer and refuses a short one', () => {
    const out = new Uint8Array(3 * W * H);
    const r = luptonRgb(R, G, B, { minimum: [0, 0, 0], stretch: 50, Q: 8 }, out);
    expect(r.data).toBe(out);
    expect(errorOf(() => luptonRgb(R, G, B, { minimum: [0, 0, 0], stretch: 50, Q: 8 }, new Uint8Array(10))).where.field).toBe('out');
  });

  it('renders undefined pixels as the minimum: black when undefined in every band', () => {
    const out = luptonRgb(R, G, B, { minimum: [0, 0, 0], stretch: 50, Q: 8 });
    expect(Number.isNaN(R.data[2 * W + 44])).toBe(true);
    expect(px(out, 44, 2)).toEqual([0, 0, 0]);
    const nan = one(NaN);
    expect(Array.from(luptonRgb(nan, nan, nan, p).data)).toEqual([0, 0, 0]);
    // Undefined in one band only: the others keep their colour.
    expect(Array.from(luptonRgb(one(NaN), one(10), one(10), p).data)).toEqual(Array.from(luptonRgb(one(0), one(10), one(10), p).data));
    const inf = luptonRgb(one(Infinity), one(-Infinity), one(1e300), p);
    expect(Array.from(inf.data).every((v) => v >= 0 && v <= 255)).toBe(true);
  });

  it('keeps the hue of saturated pixels', () => {
    const out = luptonRgb(one(1000), one(500), one(100), { minimum: [0, 0, 0], stretch: 1, Q: 8 });
    const [r, g, b] = out.data;
    expect(r).toBe(255);
    expect(Math.abs(g - (255 * 500) / 1000)).toBeLessThanOrEqual(1);
    expect(Math.abs(b - (255 * 100) / 1000)).toBeLessThanOrEqual(1);
    // The fixture's saturated star core (x 6, y 6; flat top, g:r:i = 1:5:10).
    const star = luptonRgb(R, G, B, { minimum: [0, 0, 0], stretch: 2, Q: 8 });
    const [sr, sg, sb] = px(star, 6, 6);
    expect(sr).toBe(255);
    expect(Math.abs(sg - 127.5)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(sb - 25.5)).toBeLessThanOrEqual(1.5);
  });

  it('treats Q = 0 as astropy does (Q = 0.1: near-linear, I * 255 / s at small I)', () => {
    const out = luptonRgb(one(10), one(10), one(10), { minimum: [0, 0, 0], stretch: 100, Q: 0 });
    expect(out.data[0]).toBe(25);
  });

  it('validates its parameters, naming the field', () => {
    const ok: LuptonParams = { minimum: [0, 0, 0], stretch: 5, Q: 8 };
    const cases: [Partial<LuptonParams>, string][] = [
      [{ stretch: 0 }, 'stretch'],
      [{ stretch: -1 }, 'stretch'],
      [{ stretch: Infinity }, 'stretch'],
      [{ Q: -0.5 }, 'Q'],
      [{ Q: NaN }, 'Q'],
      [{ minimum: [0, NaN, 0] }, 'minimum'],
      [{ minimum: [0, 0] as unknown as [number, number, number] }, 'minimum'],
    ];
    for (const [patch, field] of cases) {
      const e = errorOf(() => luptonRgb(R, G, B, { ...ok, ...patch }));
      expect(e.where.field).toBe(field);
      expect(e.message).toContain(field);
    }
    const small: ImagePlane = { width: 2, height: 2, data: new Float32Array(4) };
    expect(errorOf(() => luptonRgb(R, G, small, ok)).where.field).toBe('shape');
    expect(errorOf(() => luptonRgb({ width: 3, height: 3, data: new Float32Array(4) }, small, small, ok)).where.field).toBe('shape');
  });

  it('computes asinh to 1e-12 relative of Math.asinh', () => {
    let worst = 0;
    for (let e = -30; e <= 300; e += 0.0137) {
      const u = 10 ** e;
      worst = Math.max(worst, Math.abs(asinhPositive(u) - Math.asinh(u)) / Math.asinh(u));
    }
    expect(worst).toBeLessThan(1e-12);
    expect(asinhPositive(0)).toBe(0);
    expect(asinhPositive(Number.MAX_VALUE)).toBeCloseTo(Math.asinh(Number.MAX_VALUE), 10);
  });
});

describe('luptonGrey', () => {
  it('matches astropy make_lupton_rgb(X, X, X), channel 0', () => {
    const g = index.grey;
    const out = luptonGrey(band(g.band), { minimum: g.minimum, stretch: g.stretch, Q: g.Q });
    expect(out.channels).toBe(1);
    expect(compare(out.data, readBytes(g.file), 'lupton grey')).toBeGreaterThanOrEqual(0.999);
  });

  it('equals the first channel of luptonRgb with the band in all three', () => {
    for (const plane of [G, asF64(G)]) {
      const rgb = luptonRgb(plane, plane, plane, { minimum: [-3, -3, -3], stretch: 20, Q: 5 });
      const grey = luptonGrey(plane, { minimum: -3, stretch: 20, Q: 5 });
      expect(Array.from(grey.data)).toEqual(Array.from(rgb.data.filter((_, i) => i % 3 === 0)));
    }
  });

  it('validates its parameters', () => {
    expect(errorOf(() => luptonGrey(G, { minimum: NaN, stretch: 1, Q: 1 })).where.field).toBe('minimum');
    expect(errorOf(() => luptonGrey(G, { minimum: 0, stretch: 0, Q: 1 })).where.field).toBe('stretch');
  });
});

describe('zscaleInterval', () => {
  const close = (actual: [number, number], expected: [number, number]) => {
    for (let k = 0; k < 2; k++) expect(Math.abs(actual[k] - expected[k])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected[k])));
  };

  it('matches astropy ZScaleInterval on each band (NaN present) and on the intensity', () => {
    close(zscaleInterval(band('g').data), index.zscale.band_g);
    close(zscaleInterval(band('r').data), index.zscale.band_r);
    close(zscaleInterval(band('i').data), index.zscale.band_i);
    const f = Math.fround;
    const I = R.data.map((_, k) => f(f(f(R.data[k] + G.data[k]) + B.data[k]) / 3));
    close(zscaleInterval(I), index.zscale.intensity);
  });

  it('matches astropy on a larger array (strided sample, outliers, NaN, Infinity), float32 and float64', () => {
    const big = readF32(index.zscale.big.file);
    close(zscaleInterval(big), index.zscale.big.float32);
    close(zscaleInterval(Float64Array.from(big)), index.zscale.big.float64);
    close(zscaleInterval(big, index.zscale.big_options.options), index.zscale.big_options.limits);
  });

  it('matches astropy on edge cases', () => {
    for (const [name, c] of Object.entries(index.zscale.edge)) {
      const limits = zscaleInterval(Float64Array.from(c.values, (v) => (v === null ? NaN : v)));
      expect(limits, name).toEqual(expect.any(Array));
      close(limits, c.limits);
    }
  });

  it('gives NaN limits when nothing is finite', () => {
    expect(zscaleInterval(new Float32Array([NaN, Infinity, NaN]))).toEqual([NaN, NaN]);
    expect(zscaleInterval(new Float64Array(0))).toEqual([NaN, NaN]);
  });
});

describe('autoLuptonParams', () => {
  it('derives astropy AsinhZScaleMapping minimum and stretch', () => {
    const p = autoLuptonParams(R, G, B);
    expect(p.Q).toBe(8);
    for (let c = 0; c < 3; c++) expect(p.minimum[c]).toBeCloseTo(index.auto.minimum[c], 6);
    expect(Math.abs(p.stretch - index.auto.stretch) / index.auto.stretch).toBeLessThan(1e-9);
    expect(p.fallback).toBeUndefined();
  });

  it('renders like astropy AsinhZScaleMapping.make_rgb_image', () => {
    const out = luptonRgb(R, G, B, autoLuptonParams(R, G, B));
    expect(compare(out.data, readBytes(index.auto.file), 'auto')).toBeGreaterThanOrEqual(0.999);
  });

  it('does the same for one band', () => {
    const p = autoLuptonGreyParams(band(index.autoGrey.band));
    expect(p.minimum).toBeCloseTo(index.autoGrey.minimum, 6);
    expect(Math.abs(p.stretch - index.autoGrey.stretch) / index.autoGrey.stretch).toBeLessThan(1e-9);
    const out = luptonGrey(band(index.autoGrey.band), p);
    expect(compare(out.data, readBytes(index.autoGrey.file), 'auto grey')).toBeGreaterThanOrEqual(0.999);
  });

  it('adds a pedestal back into the minimum', () => {
    const plain = autoLuptonParams(R, G, B);
    const shifted = (p: ImagePlane, d: number): ImagePlane => ({ ...p, data: Float64Array.from(p.data, (v) => v + d) });
    const p = autoLuptonParams(shifted(R, 100), shifted(G, 200), shifted(B, 300), { pedestal: [100, 200, 300] });
    expect(p.minimum[0] - 100).toBeCloseTo(plain.minimum[0], 3);
    expect(p.minimum[2] - 300).toBeCloseTo(plain.minimum[2], 3);
    expect(p.stretch).toBeCloseTo(plain.stretch, 3);
  });

  it('falls back instead of producing NaN for flat or empty images', () => {
    const flat: ImagePlane = { width: 4, height: 4, data: new Float32Array(16).fill(7) };
    const p = autoLuptonParams(flat, flat, flat);
    expect(p).toMatchObject({ minimum: [7, 7, 7], stretch: 1 });
    expect(p.fallback).toBeDefined();
    const empty: ImagePlane = { width: 4, height: 4, data: new Float32Array(16).fill(NaN) };
    const q = autoLuptonParams(empty, empty, empty);
    expect(q).toMatchObject({ minimum: [0, 0, 0], stretch: 1, fallback: 'no defined pixels' });
    expect(Array.from(luptonRgb(empty, empty, empty, q).data).every((v) => v === 0)).toBe(true);
  });
});

describe('renderColour', () => {
  const presets: ColourOptions[] = [{ preset: 'auto' }, { preset: 'lupton', stretch: 50 }, { preset: 'legacy-survey' }, { preset: 'linear' }];

  it('auto equals autoLuptonParams + luptonRgb and reports the parameters', () => {
    const { raster, params } = renderColour([R, G, B], { preset: 'auto' });
    compare(raster.data, readBytes(index.auto.file), 'renderColour auto');
    expect(params).toMatchObject({ preset: 'auto', Q: 8, stretch: autoLuptonParams(R, G, B).stretch, bands: ['i', 'r', 'g'] });
  });

  it('lupton uses astropy defaults (0, 5, 8)', () => {
    const { raster, params } = renderColour([R, G, B], { preset: 'lupton' });
    expect(params).toMatchObject({ preset: 'lupton', minimum: [0, 0, 0], stretch: 5, Q: 8 });
    expect(Array.from(raster.data)).toEqual(Array.from(luptonRgb(R, G, B, { minimum: [0, 0, 0], stretch: 5, Q: 8 }).data));
  });

  it.each(presets)('%j: one plane gives grey, NaN gives black, no garbage', (opts) => {
    const grey = renderColour([G], opts);
    expect(grey.raster.channels).toBe(1);
    expect(grey.raster.data.length).toBe(W * H);
    const rgb = renderColour([R, G, B], opts);
    expect(rgb.raster.channels).toBe(3);
    expect(px(rgb.raster, 44, 2)).toEqual([0, 0, 0]);
    expect(px(grey.raster, 44, 2)).toEqual([0]);
    // A bright source is brighter than the sky around it.
    expect(px(rgb.raster, 14, 20).reduce((a, b) => a + b)).toBeGreaterThan(px(rgb.raster, 2, 30).reduce((a, b) => a + b));
  });

  it('grey lupton equals luptonGrey', () => {
    const { raster } = renderColour([G], { preset: 'lupton', minimum: -5, stretch: 30, Q: 4 });
    expect(Array.from(raster.data)).toEqual(Array.from(luptonGrey(G, { minimum: -5, stretch: 30, Q: 4 }).data));
    expect(errorOf(() => renderColour([G], { preset: 'lupton', minimum: [1, 2, 3] })).where.field).toBe('minimum');
  });

  const ramp = (n: number, lo: number, hi: number, f64 = false): ImagePlane => {
    const d = f64 ? new Float64Array(n) : new Float32Array(n);
    for (let k = 0; k < n; k++) d[k] = lo + ((hi - lo) * k) / (n - 1);
    return { width: n, height: 1, data: d };
  };
  const monotone = (r: Raster8) => {
    for (let c = 0; c < r.channels; c++) {
      for (let k = 1; k < r.width; k++) expect(r.data[k * r.channels + c]).toBeGreaterThanOrEqual(r.data[(k - 1) * r.channels + c]);
    }
  };

  it('legacy-survey: sdss_rgb on nJy, monotone, sky level as computed by hand', () => {
    // Flux from 0 to 1e5 nJy in all bands.
    const p = ramp(400, 0, 1e5);
    const { raster, params } = renderColour([p, p, p], { preset: 'legacy-survey' });
    monotone(raster);
    // Zero flux: v = m = 0.03, I = 0.03, out = asinh(20 * 0.03) / sqrt(20) = 0.1272 -> 32.
    expect(px(raster, 0, 0)).toEqual([32, 32, 32]);
    expect(px(raster, 399, 0)).toEqual([255, 255, 255]);
    expect(params).toMatchObject({ preset: 'legacy-survey', Q: 20, m: [0.03, 0.03, 0.03], scales: [3.0 / 3631, 3.4 / 3631, 6.0 / 3631], bandsAssumed: true });
    // Named bands choose their own scales; explicit scales and minimum override.
    const named = renderColour([p, p, p], { preset: 'legacy-survey', bands: ['z', 'i', 'g'] });
    expect(named.params.scales).toEqual([2.2 / 3631, 3.0 / 3631, 6.0 / 3631]);
    const given = renderColour([p, p, p], { preset: 'legacy-survey', scales: [1e-3, 1e-3, 1e-3], minimum: 0 });
    expect(px(given.raster, 0, 0)).toEqual([0, 0, 0]);
    expect(given.params.m).toEqual([-0, -0, -0]);
    // Colour: a red source (i >> g) comes out red.
    const red = renderColour([one(3000), one(1500), one(300)], { preset: 'legacy-survey' }).raster.data;
    expect(red[0]).toBeGreaterThan(red[1]);
    expect(red[1]).toBeGreaterThan(red[2]);
    expect(errorOf(() => renderColour([p, p, p], { preset: 'legacy-survey', bands: ['N1', 'r', 'g'] })).where.field).toBe('scales');
  });

  it('linear: zscale per band by default, explicit minimum/stretch, monotone', () => {
    const p = ramp(256, -10, 245, true);
    const { raster, params } = renderColour([p], { preset: 'linear', minimum: -10, stretch: 255 });
    monotone(raster);
    // x = lo + k: byte k (truncation), exactly.
    expect(Array.from(raster.data)).toEqual(Array.from({ length: 256 }, (_, k) => k));
    expect(params).toMatchObject({ preset: 'linear', limits: [[-10, 245]] });
    const z = renderColour([R, G, B], { preset: 'linear' });
    expect(z.params.limits).toEqual([zscaleInterval(R.data), zscaleInterval(G.data), zscaleInterval(B.data)]);
    monotone(renderColour([ramp(100, -50, 500), ramp(100, -50, 500), ramp(100, -50, 500)], { preset: 'linear' }).raster);
    // Flat band: no NaN, no throw.
    const flat: ImagePlane = { width: 3, height: 1, data: new Float32Array([2, 2, 2]) };
    expect(Array.from(renderColour([flat], { preset: 'linear' }).raster.data)).toEqual([0, 0, 0]);
  });

  it('two planes: R = first, B = second, G = their mean', () => {
    const { raster, params } = renderColour([R, B], { preset: 'lupton', stretch: 50 });
    const green = syntheticGreen(R, B);
    expect(Array.from(raster.data)).toEqual(Array.from(luptonRgb(R, green, B, { minimum: [0, 0, 0], stretch: 50, Q: 8 }).data));
    expect(params).toMatchObject({ green: 'mean of r and g' });
    expect(renderColour([R, B], { preset: 'auto', bands: ['i', 'g'] }).params).toMatchObject({ green: 'mean of i and g' });
    expect(green.data[5]).toBeCloseTo((R.data[5] + B.data[5]) / 2, 4);
    // Undefined in either band: the synthetic green is undefined too.
    expect(Number.isNaN(syntheticGreen(one(NaN), one(2)).data[0])).toBe(true);
  });

  it('refuses options a preset does not use, and bad values, naming the field', () => {
    const cases: [ColourOptions, string][] = [
      [{ preset: 'auto', stretch: 3 }, 'stretch'],
      [{ preset: 'auto', minimum: 0 }, 'minimum'],
      [{ preset: 'legacy-survey', stretch: 3 }, 'stretch'],
      [{ preset: 'linear', Q: 3 }, 'Q'],
      [{ preset: 'lupton', scales: [1, 1, 1] }, 'scales'],
      [{ preset: 'legacy-survey', scales: [1, 0, 1] }, 'scales'],
      [{ preset: 'lupton', stretch: -2 }, 'stretch'],
      [{ preset: 'lupton', Q: -1 }, 'Q'],
      [{ preset: 'lupton', minimum: [0, NaN, 0] }, 'minimum'],
      [{ preset: 'sepia' as never }, 'preset'],
      [{ preset: 'auto', bands: ['i', 'r'] }, 'bands'],
    ];
    for (const [opts, field] of cases) expect(errorOf(() => renderColour([R, G, B], opts)).where.field, JSON.stringify(opts)).toBe(field);
    expect(errorOf(() => renderColour([], { preset: 'auto' })).where.field).toBe('bands');
    expect(errorOf(() => renderColour([R, G, B, B], { preset: 'auto' })).where.field).toBe('bands');
  });
});

describe('band order', () => {
  it('puts the reddest band in R', () => {
    expect(defaultChannelOrder(['g', 'r', 'i'])).toEqual(['i', 'r', 'g']);
    expect(defaultChannelOrder(['i', 'g', 'r'])).toEqual(['i', 'r', 'g']);
    expect(defaultChannelOrder(['u', 'z', 'y', 'g'])).toEqual(['y', 'z', 'g']);
    expect(defaultChannelOrder(['g', 'r', 'i', 'z', 'y', 'u'])).toEqual(['y', 'z', 'i']);
    expect(defaultChannelOrder(['r'])).toEqual(['r']);
  });

  it('orders two bands redder, bluer (G is synthesised from both)', () => {
    expect(defaultChannelOrder(['g', 'r'])).toEqual(['r', 'g']);
    expect(defaultChannelOrder(['z', 'u'])).toEqual(['z', 'u']);
  });

  it('refuses unknown, duplicate or no bands', () => {
    expect(errorOf(() => defaultChannelOrder(['g', 'N540', 'r'])).where.field).toBe('band');
    expect(errorOf(() => defaultChannelOrder(['g', 'g'])).where.field).toBe('band');
    expect(errorOf(() => defaultChannelOrder([])).where.field).toBe('band');
    expect(errorOf(() => defaultChannelOrder(['G', 'r'])).message).toContain('--rgb');
    // One band needs no order: any name is grey.
    expect(defaultChannelOrder(['N540'])).toEqual(['N540']);
  });

  it('parses an explicit --rgb list', () => {
    expect(parseRgbMapping('i,r,g', ['g', 'r', 'i'])).toEqual(['i', 'r', 'g']);
    expect(parseRgbMapping(' z , r , g ', ['g', 'r', 'z'])).toEqual(['z', 'r', 'g']);
    expect(parseRgbMapping('r,r,g', ['g', 'r'])).toEqual(['r', 'r', 'g']);
    expect(parseRgbMapping('N540,r', ['N540', 'r'])).toEqual(['N540', 'r']);
    expect(parseRgbMapping('r', ['g', 'r'])).toEqual(['r']);
    for (const bad of ['i,r,x', 'i,r,g,u', '', 'i,,g']) expect(errorOf(() => parseRgbMapping(bad, ['g', 'r', 'i', 'u'])).where.field).toBe('rgb');
  });
});
