import type { FitsFile, Hdu } from './fits-file.js';
import type { Header } from './header.js';
import { ImagingError, type ImagePlane, type PixelArray } from '../types.js';
import { readTiledImage } from './tiled-image.js';

export interface ReadLimits {
  /** Largest image (width x height) we will allocate; protects workers from hostile headers. */
  maxPixels: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { maxPixels: 64 * 1024 * 1024 };

/** Reads an image HDU (plain or tile-compressed) into physical values; undefined pixels are NaN. */
/**
 * `recycle` may supply an array to decode into (see FitsCutouts.release): a
 * large stamp set then reuses a few pixel buffers instead of leaving one per
 * stamp to the garbage collector.
 */
export async function readImage(
  file: FitsFile,
  hdu: Hdu,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
  recycle?: (kind: 'f32' | 'f64', n: number) => PixelArray | undefined,
): Promise<ImagePlane> {
  if (hdu.compressed) return readTiledImage(file, hdu, limits, recycle);
  const where = { file: file.name, hdu: hdu.extname ? `${hdu.index} (${hdu.extname},${hdu.extver})` : hdu.index };
  if (hdu.kind !== 'PRIMARY' && hdu.kind !== 'IMAGE') {
    throw new ImagingError(`HDU is a ${hdu.kind}, not an image`, where);
  }
  const { width, height } = imageShape(hdu.header, 'NAXIS', where, limits);
  const bitpix = hdu.header.number('BITPIX')!;
  const n = width * height;
  const out = recycle?.(arrayKind(bitpix), n);
  const s = scaling(hdu.header);
  // Float32 pixels as stored (Rubin's IMAGE extensions): read into the plane itself and swap the bytes in place.
  // No raw copy is made, and none is kept per open file, which was a quarter of a conversion thread's memory
  // on 1024 x 1024 stamps.
  if (bitpix === -32 && s.bscale === 1 && s.bzero === 0 && LITTLE_ENDIAN && hdu.dataBytes === 4 * n) {
    const data = out instanceof Float32Array ? out : new Float32Array(n);
    const bytes = Buffer.from(data.buffer, data.byteOffset, 4 * n);
    if (await file.readDataInto(hdu, bytes)) {
      bytes.swap32();
      return { width, height, data };
    }
  }
  const data = await file.withData(hdu, (raw) => decodePixels(raw, bitpix, n, s, out));
  return { width, height, data };
}

export interface Scaling {
  bscale: number;
  bzero: number;
  blank?: number;
}

export function scaling(h: Header, prefix = ''): Scaling {
  const bscale = h.number(prefix + 'BSCALE') ?? 1;
  const bzero = h.number(prefix + 'BZERO') ?? 0;
  const blank = h.number(prefix + 'BLANK');
  // BLANK only means something as an integer; a fractional one is ignored, as astropy does.
  return blank === undefined || !Number.isSafeInteger(blank) ? { bscale, bzero } : { bscale, bzero, blank };
}

/**
 * Width/height of a 2-D image; extra axes must have length 1 (cutouts are 2-D).
 * `axisKey` is NAXIS for plain images and ZNAXIS for compressed ones.
 */
export function imageShape(
  h: Header,
  axisKey: 'NAXIS' | 'ZNAXIS',
  where: ConstructorParameters<typeof ImagingError>[1],
  limits: ReadLimits,
): { width: number; height: number } {
  const naxis = h.count(axisKey, where, 999);
  if (naxis === 0) throw new ImagingError('HDU has no image data (NAXIS = 0)', where);
  const width = h.count(`${axisKey}1`, where);
  const height = naxis >= 2 ? h.count(`${axisKey}2`, where) : 1;
  for (let i = 3; i <= naxis; i++) {
    if (h.count(`${axisKey}${i}`, where) !== 1) {
      throw new ImagingError(`${naxis}-dimensional image: only 2-D cutouts are supported`, where);
    }
  }
  if (width === 0 || height === 0) throw new ImagingError(`empty image (${width} x ${height})`, where);
  if (width * height > limits.maxPixels) {
    throw new ImagingError(`image of ${width} x ${height} pixels exceeds the limit of ${limits.maxPixels} pixels`, where);
  }
  return { width, height };
}

/** Float32 where astropy gives float32 (8/16-bit and -32), Float64 otherwise. */
export function arrayKind(bitpix: number): 'f32' | 'f64' {
  return bitpix === 8 || bitpix === 16 || bitpix === -32 ? 'f32' : 'f64';
}

export function allocateFor(bitpix: number, n: number): PixelArray {
  return arrayKind(bitpix) === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

/** Big-endian raw pixels -> physical values. BLANK and NaN become NaN. */
export function decodePixels(raw: Uint8Array, bitpix: number, n: number, s: Scaling, out?: PixelArray): PixelArray {
  const data = out ?? allocateFor(bitpix, n);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const blank = s.blank;
  const hasBlank = blank !== undefined && bitpix > 0;
  const identity = s.bscale === 1 && s.bzero === 0;
  if (identity && bitpix === -32 && data instanceof Float32Array && LITTLE_ENDIAN) return copyFloat32BE(raw, n, data);
  if (!identity && data instanceof Float32Array) return decodeScaledF32(dv, raw, bitpix, n, s, hasBlank, data);
  const { bscale, bzero } = s;
  switch (bitpix) {
    case 8:
      for (let i = 0; i < n; i++) {
        const v = raw[i];
        data[i] = hasBlank && v === blank ? NaN : identity ? v : bzero + bscale * v;
      }
      break;
    case 16:
      for (let i = 0; i < n; i++) {
        const v = dv.getInt16(2 * i);
        data[i] = hasBlank && v === blank ? NaN : identity ? v : bzero + bscale * v;
      }
      break;
    case 32:
      for (let i = 0; i < n; i++) {
        const v = dv.getInt32(4 * i);
        data[i] = hasBlank && v === blank ? NaN : identity ? v : bzero + bscale * v;
      }
      break;
    case 64: {
      const b = hasBlank ? BigInt(blank) : 0n;
      for (let i = 0; i < n; i++) {
        const big = dv.getBigInt64(8 * i);
        data[i] = hasBlank && big === b ? NaN : bzero + bscale * Number(big);
      }
      break;
    }
    case -32:
      for (let i = 0; i < n; i++) {
        const v = dv.getFloat32(4 * i);
        data[i] = identity ? v : bzero + bscale * v;
      }
      break;
    case -64:
      for (let i = 0; i < n; i++) {
        const v = dv.getFloat64(8 * i);
        data[i] = identity ? v : bzero + bscale * v;
      }
      break;
    default:
      throw new ImagingError(`unsupported BITPIX ${bitpix}`);
  }
  return data;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Unscaled float32 (the usual Stamps IMAGE): the big-endian bytes copied into
 * the output and byte-swapped there in one native pass, bit for bit what a
 * DataView read per pixel gives, at a fraction of its cost. The raw bytes
 * are left as they are (they may be the caller's).
 */
function copyFloat32BE(raw: Uint8Array, n: number, data: Float32Array): Float32Array {
  const bytes = Buffer.from(data.buffer, data.byteOffset, 4 * n);
  bytes.set(raw.subarray(0, 4 * n));
  bytes.swap32();
  return data;
}

const F32_MAX = 3.4028234663852886e38;

/**
 * Scaled pixels into float32, as astropy computes them: it converts the raw
 * values to float32, then multiplies by BSCALE and adds BZERO in place, each
 * a float32 operation (numpy casts the Python scalars to float32 first) and
 * each skipped when it would do nothing. Scaling in double and rounding once
 * is often one float32 step away from that, which is enough to turn
 * astropy's exact zero intensity in Lupton's (r + g + b) / 3 into a tiny
 * positive one and light up a pixel astropy leaves black. A factor beyond
 * float32's range is not cast (numpy then computes in double).
 */
function decodeScaledF32(dv: DataView, raw: Uint8Array, bitpix: number, n: number, s: Scaling, hasBlank: boolean, data: Float32Array): Float32Array {
  const fround = Math.fround;
  const bscale = Math.abs(s.bscale) <= F32_MAX ? fround(s.bscale) : s.bscale;
  const bzero = Math.abs(s.bzero) <= F32_MAX ? fround(s.bzero) : s.bzero;
  const multiply = s.bscale !== 1;
  const add = s.bzero !== 0;
  const blank = s.blank;
  for (let i = 0; i < n; i++) {
    let v: number;
    if (bitpix === 8) v = raw[i];
    else if (bitpix === 16) v = dv.getInt16(2 * i);
    else if (bitpix === -32) v = dv.getFloat32(4 * i);
    else if (bitpix === 32) v = dv.getInt32(4 * i);
    else if (bitpix === 64) v = Number(dv.getBigInt64(8 * i));
    else v = dv.getFloat64(8 * i);
    if (hasBlank && v === blank) {
      data[i] = NaN;
      continue;
    }
    let x = fround(v);
    if (multiply) x = fround(x * bscale);
    if (add) x = fround(x + bzero);
    data[i] = x;
  }
  return data;
}
