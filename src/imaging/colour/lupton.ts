import { ImagingError, type ImagePlane, type Raster8 } from '../types.js';
import { rgbF32Simd } from './lupton-simd.js';

/**
 * Lupton et al. (2004) colour-preserving asinh mapping, computed the way
 * astropy's make_lupton_rgb (AsinhMapping + Mapping.make_rgb_image, astropy
 * 5.2) does, so our bytes agree with what astronomers get from astropy:
 *
 *   x_c = X_c - m_c,  I = (x_r + x_g + x_b) / 3,
 *   fac = asinh(I Q/s) * (0.1 * 255 / asinh(0.1 Q)) / I   (0 where I <= 0),
 *   C_c = max(0, x_c * fac)                              (already on the 0..255 scale),
 *   if the largest C >= 255: C_c = C_c * 255 / max(C)    (saturated: hue kept),
 *   byte = trunc(C_c).
 *
 * astropy replaces |Q| < 2^-23 by Q = 0.1 (so Q = 0 is the near-linear limit
 * I * 255 / s, not a division by zero) and caps Q at 1e10; so do we.
 *
 * numpy keeps float32 images in float32 throughout (the minimum, 1/s and the
 * slope are rounded to float32 first); when all three planes are Float32Array
 * we round every step the same way (Math.fround), so truncation to a byte
 * lands where astropy's does. Float64 (or mixed) planes are computed in double,
 * as astropy does for float64 images.
 *
 * Our contract differs from astropy in one way: an undefined input (NaN, or
 * ±Infinity) counts as x_c = 0, i.e. it sits at that band's minimum, so a pixel
 * undefined in every band is black and one undefined in some bands takes its
 * colour from the others. astropy would produce NaN arithmetic there.
 */
export interface LuptonParams {
  minimum: [number, number, number];
  stretch: number;
  Q: number;
}

export interface LuptonGreyParams {
  minimum: number;
  stretch: number;
  Q: number;
}

const PIXMAX = 255;
const EPS32 = 1 / 2 ** 23;
const QMAX = 1e10;

export function checkLuptonParams(p: LuptonParams): void {
  if (!Array.isArray(p.minimum) || p.minimum.length !== 3 || p.minimum.some((m) => typeof m !== 'number' || !Number.isFinite(m))) {
    throw new ImagingError(`minimum must be three finite numbers, got ${JSON.stringify(p.minimum)}`, { field: 'minimum' });
  }
  checkStretchQ(p.stretch, p.Q);
}

function checkStretchQ(stretch: number, Q: number): void {
  if (typeof stretch !== 'number' || !(Number.isFinite(stretch) && stretch > 0)) {
    throw new ImagingError(`stretch must be a finite number > 0, got ${stretch}`, { field: 'stretch' });
  }
  if (typeof Q !== 'number' || !(Number.isFinite(Q) && Q >= 0)) throw new ImagingError(`Q must be a finite number >= 0, got ${Q}`, { field: 'Q' });
}

export function checkSameShape(planes: ImagePlane[]): void {
  const [a] = planes;
  for (const p of planes) {
    if (!(Number.isInteger(p.width) && Number.isInteger(p.height) && p.width >= 0 && p.height >= 0) || p.data.length !== p.width * p.height) {
      throw new ImagingError(`plane of ${p.width} x ${p.height} holds ${p.data.length} values`, { field: 'shape' });
    }
    if (p.width !== a.width || p.height !== a.height) {
      throw new ImagingError(`planes differ in shape: ${planes.map((q) => `${q.width}x${q.height}`).join(', ')}`, { field: 'shape' });
    }
  }
}

/** astropy's effective softening and the 0..255 slope, shared by the colour and grey paths. */
function constants(stretch: number, Qin: number): { soften: number; slope: number } {
  let Q = Qin;
  if (Math.abs(Q) < EPS32) Q = 0.1;
  else if (Q > QMAX) Q = QMAX;
  return { soften: Q / stretch, slope: (0.1 * PIXMAX) / Math.asinh(0.1 * Q) };
}

function outBuffer(out: Uint8Array | undefined, size: number): Uint8Array {
  if (!out) return new Uint8Array(size);
  if (out.length < size) throw new ImagingError(`output buffer holds ${out.length} bytes, need ${size}`, { field: 'out' });
  return out.length === size ? out : out.subarray(0, size);
}

/** R, G, B planes to an interleaved RGB raster; `out` (3 bytes a pixel) is reused when given. */
export function luptonRgb(r: ImagePlane, g: ImagePlane, b: ImagePlane, p: LuptonParams, out?: Uint8Array): Raster8 {
  checkLuptonParams(p);
  checkSameShape([r, g, b]);
  const n = r.width * r.height;
  const data = outBuffer(out, 3 * n);
  const { soften, slope } = constants(p.stretch, p.Q);
  if (r.data instanceof Float32Array && g.data instanceof Float32Array && b.data instanceof Float32Array) {
    // The WebAssembly SIMD loop where the runtime has it (every Node we support); the same bytes either way.
    const [mr, mg, mb] = p.minimum.map(Math.fround);
    if (!rgbF32Simd(r.data, g.data, b.data, mr, mg, mb, Math.fround(soften), Math.fround(slope), data)) {
      rgbF32(r.data, g.data, b.data, p.minimum, soften, slope, data);
    }
  } else {
    rgbF64(r.data, g.data, b.data, p.minimum, soften, slope, data);
  }
  return { width: r.width, height: r.height, channels: 3, data };
}

// The two loops below are the hot path where WebAssembly SIMD is missing (and
// always for float64 planes). They are kept monomorphic (one array type each)
// and allocation-free. On sky-dominated stamps the signs of I and of each
// channel are coin flips: negative channels are zeroed with integer masks
// after truncation rather than a branch, but fac does branch on I > 0,
// because the asinh it skips costs more than the mispredictions (measured by
// CPU time on 256x256 3-band stamps with 30% and 50% of pixels at I <= 0:
// 6-8% faster than computing fac for every pixel and multiplying by +(I > 0)).
// Only the rare saturated pixel takes another branch. The two loops differ
// only in rounding.

/** The float32 loop in JavaScript: the fallback, and the reference lupton-simd's test compares with. */
export function rgbF32(
  rd: Float32Array,
  gd: Float32Array,
  bd: Float32Array,
  minimum: [number, number, number],
  soften64: number,
  slope64: number,
  data: Uint8Array,
): void {
  const fround = Math.fround;
  const mr = fround(minimum[0]);
  const mg = fround(minimum[1]);
  const mb = fround(minimum[2]);
  const soften = fround(soften64);
  const slope = fround(slope64);
  const n = rd.length;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    let xr = fround(rd[i] - mr);
    let xg = fround(gd[i] - mg);
    let xb = fround(bd[i] - mb);
    // x - x is 0 only for finite x: undefined pixels sit at the minimum. One
    // test for the usual all-defined case.
    if (xr - xr + (xg - xg) + (xb - xb) !== 0) {
      if (xr - xr !== 0) xr = 0;
      if (xg - xg !== 0) xg = 0;
      if (xb - xb !== 0) xb = 0;
    }
    const I = fround(fround(fround(xr + xg) + xb) / 3);
    // Where I <= 0 every channel ends at 0 whatever fac is (x * 0, or a NaN that truncates to 0).
    const fac = I > 0 ? fround(fround(fround(asinhPositive(fround(I * soften))) * slope) / I) : 0;
    let cr = fround(xr * fac);
    let cg = fround(xg * fac);
    let cb = fround(xb * fac);
    if (cr >= PIXMAX || cg >= PIXMAX || cb >= PIXMAX) {
      // astropy divides by the largest clamped channel, c * 255 first then / max.
      const top = Math.max(cr, cg, cb);
      cr = fround(fround(cr * PIXMAX) / top);
      cg = fround(fround(cg * PIXMAX) / top);
      cb = fround(fround(cb * PIXMAX) / top);
    }
    // Truncation toward zero as numpy's astype(uint8); negatives (and the NaN
    // of an overflowing float32 intermediate) become 0. A channel below -2^31
    // (where | 0 would wrap) cannot get here: with I > 0 the other channels
    // then exceed 2^31 too, and the saturation step scaled all three into
    // [-255, 255].
    const tr = cr | 0;
    const tg = cg | 0;
    const tb = cb | 0;
    data[o] = tr & ~(tr >> 31);
    data[o + 1] = tg & ~(tg >> 31);
    data[o + 2] = tb & ~(tb >> 31);
  }
}

function rgbF64(
  rd: ArrayLike<number>,
  gd: ArrayLike<number>,
  bd: ArrayLike<number>,
  minimum: [number, number, number],
  soften: number,
  slope: number,
  data: Uint8Array,
): void {
  const [mr, mg, mb] = minimum;
  const n = rd.length;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    let xr = rd[i] - mr;
    let xg = gd[i] - mg;
    let xb = bd[i] - mb;
    if (xr - xr + (xg - xg) + (xb - xb) !== 0) {
      if (xr - xr !== 0) xr = 0;
      if (xg - xg !== 0) xg = 0;
      if (xb - xb !== 0) xb = 0;
    }
    const I = (xr + xg + xb) / 3;
    // I + 1e-300 is I for any I > 1e-284 and, as before, keeps a subnormal I from overflowing the quotient.
    const Ia = I + 1e-300;
    const fac = I > 0 ? (asinhPositive(Ia * soften) * slope) / Ia : 0;
    let cr = xr * fac;
    let cg = xg * fac;
    let cb = xb * fac;
    if (cr >= PIXMAX || cg >= PIXMAX || cb >= PIXMAX) {
      const top = Math.max(cr, cg, cb);
      cr = (cr * PIXMAX) / top;
      cg = (cg * PIXMAX) / top;
      cb = (cb * PIXMAX) / top;
    }
    const tr = cr | 0;
    const tg = cg | 0;
    const tb = cb | 0;
    data[o] = tr & ~(tr >> 31);
    data[o + 1] = tg & ~(tg >> 31);
    data[o + 2] = tb & ~(tb >> 31);
  }
}

/**
 * One band: what astropy gives for make_lupton_rgb(X, X, X), whose three
 * channels are equal, as a one-channel raster. The intensity is still formed
 * as (x + x + x) / 3 because in float32 that is not always exactly x.
 */
export function luptonGrey(plane: ImagePlane, p: LuptonGreyParams, out?: Uint8Array): Raster8 {
  if (typeof p.minimum !== 'number' || !Number.isFinite(p.minimum)) {
    throw new ImagingError(`minimum must be a finite number, got ${JSON.stringify(p.minimum)}`, { field: 'minimum' });
  }
  checkStretchQ(p.stretch, p.Q);
  checkSameShape([plane]);
  const n = plane.width * plane.height;
  const data = outBuffer(out, n);
  const { soften, slope } = constants(p.stretch, p.Q);
  const d = plane.data;
  if (d instanceof Float32Array) {
    const fround = Math.fround;
    const m = fround(p.minimum);
    const sf = fround(soften);
    const sl = fround(slope);
    for (let i = 0; i < n; i++) {
      let x = fround(d[i] - m);
      if (x - x !== 0) x = 0;
      const I = fround(fround(fround(x + x) + x) / 3);
      let c = I > 0 ? fround(x * fround(fround(fround(asinhPositive(fround(I * sf))) * sl) / I)) : 0;
      if (c >= PIXMAX) c = fround(fround(c * PIXMAX) / c);
      const t = c | 0;
      data[i] = t & ~(t >> 31);
    }
  } else {
    const m = p.minimum;
    for (let i = 0; i < n; i++) {
      let x = d[i] - m;
      if (x - x !== 0) x = 0;
      const I = (x + x + x) / 3;
      const Ia = I + 1e-300;
      let c = I > 0 ? x * ((asinhPositive(Ia * soften) * slope) / Ia) : 0;
      if (c >= PIXMAX) c = (c * PIXMAX) / c;
      const t = c | 0;
      data[i] = t & ~(t >> 31);
    }
  }
  return { width: plane.width, height: plane.height, channels: 1, data };
}

const LN2 = Math.LN2;
const TWO28 = 2 ** 28;
// 2^-k for every binary exponent k of a double >= 1 (2^-1024 is subnormal, not 0).
const POW2_NEG = new Float64Array(1026).map((_, k) => 2 ** -k);
// 64 sub-intervals of [1, 2): 1/c and log(c) at their centres c.
const INV_C = new Float64Array(64).map((_, j) => 1 / (1 + (j + 0.5) / 64));
const LOG_C = INV_C.map((v) => -Math.log(v));
// A double's exponent and leading mantissa bits, read through an aliased
// Int32Array: cheaper here than any number conversion V8 offers, whose
// out-of-line slow paths make the register allocator spill in the hot loop.
const BITS_F64 = new Float64Array(1);
const BITS_I32 = new Int32Array(BITS_F64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * asinh(u) for u >= 0, within 1e-13 relative of Math.asinh, which costs a call
 * into C per pixel and was most of the hot loop's time (this is ~3x faster).
 * Rounded to float32 it agreed with Math.asinh on each of 4e6 random
 * arguments, so bytes agree with astropy's except in vanishingly rare ties.
 * asinh(u) = log(w), w = u + sqrt(1 + u^2), or log(u) + log 2 above 2^28
 * (equal in double precision, and nothing overflows); w = 2^k m, m in [1, 2)
 * falls in one of 64 cells of centre c: log(m) = log(c) + log1p(m/c - 1) with
 * |m/c - 1| < 1/128, summed to the 6th power. Below 0.01 the cancellation
 * near w = 1 would cost digits, and the odd series to u^7 is exact enough.
 */
export function asinhPositive(u: number): number {
  if (u < 0.01) {
    const u2 = u * u;
    return u - u * u2 * (1 / 6 - u2 * (3 / 40 - u2 * (5 / 112)));
  }
  const big = u >= TWO28;
  const w = big ? u : u + Math.sqrt(1 + u * u);
  BITS_F64[0] = w;
  const hi = BITS_I32[HI];
  const k = (hi >> 20) - 1023;
  const j = (hi >> 14) & 63;
  const r = w * POW2_NEG[k] * INV_C[j] - 1;
  const r2 = r * r;
  const p = r - r2 * (0.5 - r * (1 / 3 - r * 0.25)) + r2 * r2 * r * (0.2 - r * (1 / 6));
  return (big ? k + 1 : k) * LN2 + LOG_C[j] + p;
}
