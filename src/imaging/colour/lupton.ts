import { ImagingError, type ImagePlane, type Raster8 } from '../types.js';

/**
 * Lupton et al. (2004) colour-preserving asinh mapping, computed the way
 * astropy's make_lupton_rgb does (AsinhMapping + make_rgb_image), so the
 * bytes agree with what astronomers get from astropy:
 *   x_c = X_c - m_c,  I = (x_r + x_g + x_b) / 3,
 *   fac = asinh(I Q / s) * (0.1 * 255 / asinh(0.1 Q)) / I  (0 where I <= 0),
 *   C_c = max(0, x_c fac), saturated pixels scaled by 255 / max(C) (hue kept),
 *   byte = floor(C_c).
 * Undefined (NaN) input pixels count as the band minimum, i.e. black.
 */
export interface LuptonParams {
  minimum: [number, number, number];
  stretch: number;
  Q: number;
}

const PIXMAX = 255;
/** astropy treats |Q| below float32 epsilon as 0.1 and caps Q at 1e10. */
const EPS32 = 1 / 2 ** 23;

export function checkLuptonParams(p: LuptonParams): void {
  if (!(Number.isFinite(p.stretch) && p.stretch > 0)) throw new ImagingError(`stretch must be a finite number > 0, got ${p.stretch}`, { field: 'stretch' });
  if (!(Number.isFinite(p.Q) && p.Q >= 0)) throw new ImagingError(`Q must be a finite number >= 0, got ${p.Q}`, { field: 'Q' });
  if (p.minimum.length !== 3 || p.minimum.some((m) => !Number.isFinite(m))) {
    throw new ImagingError(`minimum must be three finite numbers, got ${JSON.stringify(p.minimum)}`, { field: 'minimum' });
  }
}

function sameShape(planes: ImagePlane[]): void {
  const [a] = planes;
  for (const p of planes) {
    if (p.width !== a.width || p.height !== a.height || p.data.length !== a.width * a.height) {
      throw new ImagingError(`planes differ in shape: ${planes.map((q) => `${q.width}x${q.height}`).join(', ')}`, { field: 'shape' });
    }
  }
}

export function luptonRgb(r: ImagePlane, g: ImagePlane, b: ImagePlane, p: LuptonParams, out?: Uint8Array): Raster8 {
  checkLuptonParams(p);
  sameShape([r, g, b]);
  let Q = p.Q;
  if (Math.abs(Q) < EPS32) Q = 0.1;
  else if (Q > 1e10) Q = 1e10;
  const slope = (0.1 * PIXMAX) / Math.asinh(0.1 * Q);
  const soften = Q / p.stretch;
  const [mr, mg, mb] = p.minimum;
  const n = r.width * r.height;
  const data = out ?? new Uint8Array(3 * n);
  const rd = r.data;
  const gd = g.data;
  const bd = b.data;
  for (let i = 0; i < n; i++) {
    let xr = rd[i] - mr;
    let xg = gd[i] - mg;
    let xb = bd[i] - mb;
    // NaN - m is NaN; an undefined pixel sits at the minimum.
    if (xr !== xr) xr = 0;
    if (xg !== xg) xg = 0;
    if (xb !== xb) xb = 0;
    const I = (xr + xg + xb) / 3;
    const fac = I <= 0 ? 0 : (Math.asinh(I * soften) * slope) / I;
    let cr = xr * fac;
    let cg = xg * fac;
    let cb = xb * fac;
    if (cr < 0) cr = 0;
    if (cg < 0) cg = 0;
    if (cb < 0) cb = 0;
    // astropy's choice of the brightest channel, ties included, and its
    // evaluation order (c * 255 / max) so truncation lands on the same byte.
    const top = cr > cg ? (cr > cb ? cr : cb) : cg > cb ? cg : cb;
    if (top >= PIXMAX) {
      cr = (cr * PIXMAX) / top;
      cg = (cg * PIXMAX) / top;
      cb = (cb * PIXMAX) / top;
    }
    const o = 3 * i;
    data[o] = cr > PIXMAX ? PIXMAX : cr;
    data[o + 1] = cg > PIXMAX ? PIXMAX : cg;
    data[o + 2] = cb > PIXMAX ? PIXMAX : cb;
  }
  return { width: r.width, height: r.height, channels: 3, data };
}

/** One band: the same mapping with r = g = b, which astropy renders grey. */
export function luptonGrey(plane: ImagePlane, p: { minimum: number; stretch: number; Q: number }): Raster8 {
  const rgb = luptonRgb(plane, plane, plane, { minimum: [p.minimum, p.minimum, p.minimum], stretch: p.stretch, Q: p.Q });
  const n = plane.width * plane.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = rgb.data[3 * i];
  return { width: plane.width, height: plane.height, channels: 1, data };
}
