import type { FitsFile, Hdu } from './fits-file.js';
import type { Header } from './header.js';
import { ImagingError, type ImagePlane, type PixelArray } from '../types.js';
import { allocateFor, arrayKind, decodePixels, imageShape, scaling, type ReadLimits, type Scaling } from './image-reader.js';
import { riceDecompress } from './rice.js';
import { unquantizeTile, type QuantizeParams } from './quantize.js';
import { LITTLE_ENDIAN, gunzipAllTiles, gunzipTile, unshuffle, unshuffleFloat32Into } from './gzip-tiles.js';

/**
 * Tile-compressed images (FITS standard 4.0 section 10): a BINTABLE with one
 * row per tile, the compressed bytes in the heap. Rubin writes GZIP_2 with
 * one image row per tile by default, RICE_1 + SUBTRACTIVE_DITHER_2 as its
 * lossy option.
 */

interface Column {
  name: string;
  offset: number;
  /** 'P'/'Q' for heap descriptors, else the scalar type letter. */
  kind: string;
  /** element type inside the heap for descriptors. */
  heapType?: string;
  repeat: number;
}

const TYPE_BYTES: Record<string, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16, P: 8, Q: 16 };

export async function readTiledImage(
  file: FitsFile,
  hdu: Hdu,
  limits: ReadLimits,
  recycle?: (kind: 'f32' | 'f64', n: number) => PixelArray | undefined,
): Promise<ImagePlane> {
  const h = hdu.header;
  const where = { file: file.name, hdu: hdu.extname ? `${hdu.index} (${hdu.extname},${hdu.extver})` : hdu.index };
  const fail = (msg: string): never => {
    throw new ImagingError(msg, where);
  };
  const { width, height } = imageShape(h, 'ZNAXIS', where, limits);
  const zbitpix = h.number('ZBITPIX');
  if (zbitpix !== 8 && zbitpix !== 16 && zbitpix !== 32 && zbitpix !== 64 && zbitpix !== -32 && zbitpix !== -64) {
    fail(`ZBITPIX must be one of 8, 16, 32, 64, -32, -64, got ${JSON.stringify(h.get('ZBITPIX'))}`);
  }
  const bitpix = zbitpix as 8 | 16 | 32 | 64 | -32 | -64;
  const cmp = (h.string('ZCMPTYPE') ?? '').trim().toUpperCase();
  if (!['GZIP_1', 'GZIP_2', 'RICE_1', 'RICE_ONE', 'NOCOMPRESS'].includes(cmp)) {
    fail(`compression ${JSON.stringify(cmp)} is not supported (GZIP_1, GZIP_2 and RICE_1 are)`);
  }
  const ztile1 = h.number('ZTILE1') ?? width;
  const ztile2 = h.number('ZTILE2') ?? 1;
  if (!isPosInt(ztile1) || !isPosInt(ztile2)) fail(`ZTILE1/ZTILE2 must be positive integers`);
  // A tile larger than the image is just the whole image; never allocate for the claim.
  const tileW = Math.min(ztile1, width);
  const tileH = Math.min(ztile2, height);
  for (let i = 3; i <= (h.number('ZNAXIS') ?? 2); i++) {
    if ((h.number(`ZTILE${i}`) ?? 1) !== 1) fail(`ZTILE${i} must be 1 for a 2-D image`);
  }
  const tilesX = Math.ceil(width / tileW);
  const tilesY = Math.ceil(height / tileH);
  const rowBytes = h.count('NAXIS1', where);
  const nrows = h.count('NAXIS2', where);
  if (nrows !== tilesX * tilesY) fail(`table has ${nrows} rows but the tiling needs ${tilesX * tilesY}`);

  const cols = parseColumns(h, rowBytes, fail);
  const compCol = cols.get('COMPRESSED_DATA');
  const gzipCol = cols.get('GZIP_COMPRESSED_DATA');
  const rawCol = cols.get('UNCOMPRESSED_DATA');
  if (!compCol && !gzipCol && !rawCol) fail('no COMPRESSED_DATA column');
  for (const c of [compCol, gzipCol, rawCol]) {
    if (c && c.kind !== 'P' && c.kind !== 'Q') fail(`column ${c.name} must be a heap descriptor (P or Q)`);
  }

  // Everything below is synchronous, so the table can live in FitsFile's reused scratch buffer.
  const image = recycle?.(arrayKind(bitpix), width * height) ?? allocateFor(bitpix, width * height);
  return file.withData(hdu, (data) => decodeTiles(data, image, { h, width, height, bitpix, cmp, tileW, tileH, tilesX, rowBytes, nrows, cols, fail }));
}

/** What the header said about the tiling, checked. */
interface TileLayout {
  h: Header;
  width: number;
  height: number;
  bitpix: 8 | 16 | 32 | 64 | -32 | -64;
  cmp: string;
  tileW: number;
  tileH: number;
  tilesX: number;
  rowBytes: number;
  nrows: number;
  cols: Map<string, Column>;
  fail: (msg: string) => never;
}

function decodeTiles(data: Uint8Array, image: PixelArray, l: TileLayout): ImagePlane {
  const { h, width, height, bitpix, cmp, tileW, tileH, tilesX, rowBytes, nrows, cols, fail } = l;
  const compCol = cols.get('COMPRESSED_DATA');
  const gzipCol = cols.get('GZIP_COMPRESSED_DATA');
  const rawCol = cols.get('UNCOMPRESSED_DATA');
  const heapStart = h.number('THEAP') ?? rowBytes * nrows;
  if (rowBytes * nrows > data.length) fail(`table of ${nrows} rows x ${rowBytes} bytes is larger than the data`);
  if (!isNonNegInt(heapStart) || heapStart < rowBytes * nrows || heapStart > data.length) fail(`THEAP ${heapStart} is outside the data`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);

  const quantized = bitpix < 0 && (cols.has('ZSCALE') || h.number('ZSCALE') !== undefined);
  const qmethod = quantizeMethod(h, quantized, fail);
  const zdither0 = h.get('ZDITHER0');
  if (zdither0 !== undefined && !(typeof zdither0 === 'number' && Number.isInteger(zdither0))) fail(`ZDITHER0 must be an integer, got ${JSON.stringify(zdither0)}`);
  const zblankKey = h.number('ZBLANK');
  const outScaling: Scaling = scaling(h);
  if (zblankKey !== undefined && Number.isSafeInteger(zblankKey) && bitpix > 0) outScaling.blank = zblankKey;
  const params = zparams(h);
  const blockSize = params.BLOCKSIZE ?? 32;
  // Integers the compressor actually stored: quantised floats are 32-bit ints.
  const storedBytes = quantized ? 4 : Math.abs(bitpix) / 8;
  const ricePix = params.BYTEPIX ?? 4;
  if (cmp.startsWith('RICE') && ![1, 2, 4].includes(ricePix)) fail(`RICE_1 BYTEPIX must be 1, 2 or 4, got ${ricePix}`);
  if (cmp.startsWith('RICE') && !isPosInt(blockSize)) fail(`RICE_1 BLOCKSIZE must be a positive integer`);

  const maxTile = tileW * tileH;
  const ints = new Int32Array(maxTile);
  const tileOut: PixelArray = bitpix === -64 || bitpix === 32 || bitpix === 64 ? new Float64Array(maxTile) : new Float32Array(maxTile);

  // Rubin's case (GZIP_2 of unquantised float32, no scaling) has a one-pass path: see unshuffleFloat32Into.
  const f32Bits = cmp === 'GZIP_2' && !quantized && bitpix === -32 && image instanceof Float32Array && outScaling.bscale === 1 && outScaling.bzero === 0 && LITTLE_ENDIAN
    ? new Uint32Array(image.buffer, image.byteOffset, image.length)
    : undefined;
  const tileSize = (row: number) => Math.min(tileW, width - (row % tilesX) * tileW) * Math.min(tileH, height - Math.floor(row / tilesX) * tileH);
  const inflated = compCol && cmp.startsWith('GZIP') ? gunzipAllTiles(dv, data, compCol, heapStart, nrows, rowBytes, (row) => tileSize(row) * storedBytes) : undefined;

  for (let row = 0; row < nrows; row++) {
    const tx = row % tilesX;
    const ty = Math.floor(row / tilesX);
    const x0 = tx * tileW;
    const y0 = ty * tileH;
    const tw = Math.min(tileW, width - x0);
    const th = Math.min(tileH, height - y0);
    const n = tw * th;
    const rowOffset = row * rowBytes;
    const tileErr = (msg: string): never => fail(`tile ${row + 1}: ${msg}`);

    const comp = compCol ? heapBytes(dv, data, rowOffset, compCol, heapStart, tileErr) : undefined;
    const tileInts = ints.subarray(0, n);
    const tileVals = tileOut.subarray(0, n);
    if (comp && comp.length > 0) {
      if (cmp.startsWith('RICE')) {
        try {
          riceDecompress(comp, tileInts, ricePix as 1 | 2 | 4, blockSize);
        } catch (e) {
          tileErr((e as Error).message);
        }
        if (quantized) {
          unquantizeTile(tileInts, tileVals, row + 1, quantParams(qmethod, h, cols, dv, rowOffset, zblankKey));
        } else {
          scaleInts(tileInts, tileVals, outScaling);
        }
      } else if (cmp === 'NOCOMPRESS') {
        decodeStored(comp, n, storedBytes, quantized, bitpix, tileVals, tileInts, outScaling, tileErr);
        if (quantized) unquantizeTile(tileInts, tileVals, row + 1, quantParams(qmethod, h, cols, dv, rowOffset, zblankKey));
      } else {
        const raw = inflated ? inflated[row] : gunzipTile(comp, n * storedBytes, tileErr);
        if (f32Bits) {
          if (raw.length < 4 * n) tileErr(`tile holds ${raw.length} bytes, needs ${4 * n}`);
          unshuffleFloat32Into(raw, n, tw, th, f32Bits, width, x0, y0);
          continue;
        }
        if (cmp === 'GZIP_2') unshuffle(raw, storedBytes);
        decodeStored(raw, n, storedBytes, quantized, bitpix, tileVals, tileInts, outScaling, tileErr);
        if (quantized) unquantizeTile(tileInts, tileVals, row + 1, quantParams(qmethod, h, cols, dv, rowOffset, zblankKey));
      }
    } else {
      // The compressor falls back per tile when a tile cannot be quantised
      // (e.g. all NaN or too much dynamic range): gzip of the raw values, or
      // the raw values themselves.
      const gz = gzipCol ? heapBytes(dv, data, rowOffset, gzipCol, heapStart, tileErr) : undefined;
      const unc = rawCol ? heapBytes(dv, data, rowOffset, rawCol, heapStart, tileErr) : undefined;
      const rawBytes = Math.abs(bitpix) / 8;
      if (gz && gz.length > 0) {
        const raw = gunzipTile(gz, n * rawBytes, tileErr);
        if (cmp === 'GZIP_2') unshuffle(raw, rawBytes);
        decodePixels(raw, bitpix, n, bitpix > 0 ? outScaling : { bscale: 1, bzero: 0 }, tileVals);
      } else if (unc && unc.length > 0) {
        const type = rawCol!.heapType!;
        const ubitpix = type === 'E' ? -32 : type === 'D' ? -64 : type === 'I' ? 16 : type === 'J' ? 32 : type === 'K' ? 64 : 8;
        if (unc.length < n * (Math.abs(ubitpix) / 8)) tileErr('UNCOMPRESSED_DATA is shorter than the tile');
        decodePixels(unc, ubitpix, n, { bscale: 1, bzero: 0 }, tileVals);
      } else {
        tileErr('no data for this tile in any column');
      }
    }

    for (let y = 0; y < th; y++) {
      const dst = (y0 + y) * width + x0;
      const src = y * tw;
      for (let x = 0; x < tw; x++) image[dst + x] = tileVals[src + x];
    }
  }
  return { width, height, data: image };
}

function isPosInt(x: number): boolean {
  return Number.isInteger(x) && x > 0;
}
function isNonNegInt(x: number): boolean {
  return Number.isInteger(x) && x >= 0;
}

function parseColumns(h: Header, rowBytes: number, fail: (m: string) => never): Map<string, Column> {
  const n = h.number('TFIELDS') ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > 999) fail(`TFIELDS ${n} is invalid`);
  const cols = new Map<string, Column>();
  let offset = 0;
  for (let i = 1; i <= n; i++) {
    const form = (h.string(`TFORM${i}`) ?? '').trim().toUpperCase();
    const m = /^(\d*)([LXBIJKAEDCMPQ])([LXBIJKAEDCM]?)(\(\d+\))?$/.exec(form);
    if (!m) fail(`TFORM${i} ${JSON.stringify(form)} is not understood`);
    const repeat = m![1] === '' ? 1 : Number(m![1]);
    const kind = m![2];
    const width = kind === 'X' ? Math.ceil(repeat / 8) : repeat * TYPE_BYTES[kind];
    const name = (h.string(`TTYPE${i}`) ?? '').trim().toUpperCase();
    cols.set(name, { name, offset, kind, heapType: m![3] || undefined, repeat });
    offset += width;
  }
  if (offset !== rowBytes) fail(`columns add up to ${offset} bytes but NAXIS1 is ${rowBytes}`);
  return cols;
}

function heapBytes(
  dv: DataView,
  data: Uint8Array,
  rowOffset: number,
  col: Column,
  heapStart: number,
  fail: (m: string) => never,
): Uint8Array {
  const at = rowOffset + col.offset;
  let count: number;
  let off: number;
  if (col.kind === 'P') {
    count = dv.getInt32(at);
    off = dv.getInt32(at + 4);
  } else {
    count = Number(dv.getBigInt64(at));
    off = Number(dv.getBigInt64(at + 8));
  }
  const elem = TYPE_BYTES[col.heapType ?? 'B'] ?? 1;
  const len = count * elem;
  const start = heapStart + off;
  if (count < 0 || off < 0 || !Number.isSafeInteger(start + len) || start + len > data.length) {
    fail(`${col.name} descriptor (${count} x ${elem} bytes at heap offset ${off}) points outside the heap`);
  }
  return data.subarray(start, start + len);
}

function decodeStored(
  raw: Uint8Array,
  n: number,
  storedBytes: number,
  quantized: boolean,
  bitpix: number,
  vals: PixelArray,
  ints: Int32Array,
  s: Scaling,
  fail: (m: string) => never,
): void {
  if (raw.length < n * storedBytes) fail(`tile holds ${raw.length} bytes, needs ${n * storedBytes}`);
  if (quantized) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) ints[i] = dv.getInt32(4 * i);
  } else {
    decodePixels(raw, bitpix, n, s, vals);
  }
}

function scaleInts(ints: Int32Array, out: PixelArray, s: Scaling): void {
  const { bscale, bzero, blank } = s;
  for (let i = 0; i < ints.length; i++) {
    const v = ints[i];
    out[i] = blank !== undefined && v === blank ? NaN : bzero + bscale * v;
  }
}

function zparams(h: Header): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 1; i < 100; i++) {
    const name = h.string(`ZNAME${i}`);
    if (name === undefined) break;
    const v = h.number(`ZVAL${i}`);
    if (v !== undefined) out[name.trim().toUpperCase()] = v;
  }
  return out;
}

function quantizeMethod(h: Header, quantized: boolean, fail: (m: string) => never): QuantizeParams['method'] {
  if (!quantized) return 'NO_DITHER';
  const q = (h.string('ZQUANTIZ') ?? 'NO_DITHER').trim().toUpperCase();
  if (q === 'NO_DITHER' || q === 'SUBTRACTIVE_DITHER_1' || q === 'SUBTRACTIVE_DITHER_2') return q;
  return fail(`ZQUANTIZ ${JSON.stringify(q)} is not supported`);
}

function quantParams(
  method: QuantizeParams['method'],
  h: Header,
  cols: Map<string, Column>,
  dv: DataView,
  rowOffset: number,
  zblankKey: number | undefined,
): QuantizeParams {
  const zscale = scalarColumn(cols.get('ZSCALE'), dv, rowOffset) ?? h.number('ZSCALE') ?? 1;
  const zzero = scalarColumn(cols.get('ZZERO'), dv, rowOffset) ?? h.number('ZZERO') ?? 0;
  const zblank = scalarColumn(cols.get('ZBLANK'), dv, rowOffset) ?? zblankKey;
  const zdither0 = h.number('ZDITHER0') ?? 1;
  return zblank === undefined ? { method, zscale, zzero, zdither0 } : { method, zscale, zzero, zdither0, zblank };
}

function scalarColumn(col: Column | undefined, dv: DataView, rowOffset: number): number | undefined {
  if (!col) return undefined;
  const at = rowOffset + col.offset;
  switch (col.kind) {
    case 'D':
      return dv.getFloat64(at);
    case 'E':
      return dv.getFloat32(at);
    case 'J':
      return dv.getInt32(at);
    case 'I':
      return dv.getInt16(at);
    case 'K':
      return Number(dv.getBigInt64(at));
    default:
      return undefined;
  }
}
