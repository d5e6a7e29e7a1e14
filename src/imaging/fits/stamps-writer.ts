import { open } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { BLOCK, formatCard, type FitsValue } from './header.js';
import type { ImagePlane } from '../types.js';

export interface StampToWrite {
  plane: ImagePlane;
  ra?: number;
  dec?: number;
  /** Extra cards for the IMAGE HDU, e.g. a sky WCS. */
  cards?: [string, FitsValue][];
  /** afw mask bits per pixel (int32); with `maskedImage`, zeros when not given. */
  mask?: Int32Array;
  /** Per-pixel variance; with `maskedImage`, derived from the image when not given. */
  variance?: Float32Array;
}

/** afw's standard mask planes, as the MP_* cards of every MASK HDU. */
export const MASK_PLANES: [string, number][] = [
  ['BAD', 0],
  ['SAT', 1],
  ['INTRP', 2],
  ['CR', 3],
  ['EDGE', 4],
  ['DETECTED', 5],
  ['DETECTED_NEGATIVE', 6],
  ['SUSPECT', 7],
  ['NO_DATA', 8],
];

export interface StampsWriteOptions {
  compress?: 'GZIP_2';
  primaryCards?: [string, FitsValue][];
  /**
   * Rubin's real layout: every stamp is a MaskedImage, IMAGE then MASK
   * (int32) then VARIANCE (float32), each with EXTVER = stamp, and the
   * primary says HAS_MASK / HAS_VARIANCE. Without it only IMAGE HDUs are
   * written (a smaller file for tests that do not care).
   */
  maskedImage?: boolean;
}

function header(cards: [string, FitsValue][]): Buffer {
  const text = cards.map(([k, v]) => formatCard(k, v)).join('') + 'END'.padEnd(80);
  const buf = Buffer.alloc(Math.ceil(text.length / BLOCK) * BLOCK, 0x20);
  buf.write(text, 'latin1');
  return buf;
}

/**
 * Writes an lsst.meas.algorithms.Stamps-shaped file (float32 IMAGE HDUs,
 * with `maskedImage` each followed by its MASK and VARIANCE; positions as
 * repeated RA_DEG/DEC_DEG cards), one stamp at a time so large synthetic
 * sets for demos and benchmarks never sit in memory.
 */
export async function writeStampsFile(
  path: string,
  count: number,
  stampAt: (i: number) => StampToWrite | Promise<StampToWrite>,
  positions?: { ra: number; dec: number }[],
  opts: StampsWriteOptions = {},
): Promise<void> {
  const masked = opts.maskedImage === true;
  const fh = await open(path, 'w');
  try {
    const primary: [string, FitsValue][] = [
      ['SIMPLE', true],
      ['BITPIX', 8],
      ['NAXIS', 0],
      ['EXTEND', true],
      ['HAS_MASK', masked],
      ['HAS_VARIANCE', masked],
      ['HAS_ARCHIVE', false],
      ['N_STAMPS', count],
      ['STAMPCLS', 'lsst.meas.algorithms.stamps.Stamp'],
      ['VERSION', 1],
    ];
    for (const p of positions ?? []) primary.push(['RA_DEG', p.ra]);
    for (const p of positions ?? []) primary.push(['DEC_DEG', p.dec]);
    primary.push(...(opts.primaryCards ?? []));
    await fh.write(header(primary));
    for (let i = 0; i < count; i++) {
      const s = await stampAt(i);
      await fh.write(hdu(s.plane, 'IMAGE', i + 1, s.cards ?? [], opts.compress));
      if (!masked) continue;
      const { width, height, data } = s.plane;
      const mask = s.mask ?? new Int32Array(width * height);
      const variance = s.variance ?? defaultVariance(data);
      const mpCards = MASK_PLANES.map(([name, bit]): [string, FitsValue] => [`MP_${name}`, bit]);
      await fh.write(hdu({ width, height, data: mask }, 'MASK', i + 1, mpCards, opts.compress));
      await fh.write(hdu({ width, height, data: variance }, 'VARIANCE', i + 1, [], opts.compress));
    }
  } finally {
    await fh.close();
  }
}

type Pixels = { width: number; height: number; data: ArrayLike<number> & { length: number } };

/** A plane whose data is an Int32Array is written as BITPIX 32 (a mask), anything else as float32. */
function bitpixOf(p: Pixels): 32 | -32 {
  return p.data instanceof Int32Array ? 32 : -32;
}

/** Poisson-like variance from the image (sky noise floor plus the signal), for files that need one. */
function defaultVariance(data: ArrayLike<number>): Float32Array {
  const v = new Float32Array(data.length);
  for (let k = 0; k < data.length; k++) v[k] = 100 + Math.abs(data[k] || 0);
  return v;
}

function hdu(p: Pixels, extname: string, extver: number, cards: [string, FitsValue][], compress?: 'GZIP_2'): Buffer {
  if (compress === 'GZIP_2') return gzip2Hdu(p, extname, extver, cards);
  const { width, height, data } = p;
  const bitpix = bitpixOf(p);
  const head = header([
    ['XTENSION', 'IMAGE'],
    ['BITPIX', bitpix],
    ['NAXIS', 2],
    ['NAXIS1', width],
    ['NAXIS2', height],
    ['PCOUNT', 0],
    ['GCOUNT', 1],
    ['EXTNAME', extname],
    ['EXTVER', extver],
    ...cards,
  ]);
  const n = width * height;
  const bytes = Buffer.alloc(head.length + Math.ceil((4 * n) / BLOCK) * BLOCK);
  head.copy(bytes);
  const o = head.length;
  if (bitpix === 32) for (let k = 0; k < n; k++) bytes.writeInt32BE(data[k], o + 4 * k);
  else for (let k = 0; k < n; k++) bytes.writeFloatBE(data[k], o + 4 * k);
  return bytes;
}

/**
 * One image as a tile-compressed BINTABLE the way the Butler stores Rubin
 * images: GZIP_2 (bytes shuffled most-significant first, then gzip), one
 * image row per tile, lossless (float32 image and variance, int32 mask).
 */
function gzip2Hdu(p: Pixels, extname: string, extver: number, cards: [string, FitsValue][]): Buffer {
  const { width, height, data } = p;
  const bitpix = bitpixOf(p);
  const tiles: Buffer[] = [];
  const raw = Buffer.alloc(4 * width);
  const shuffled = Buffer.alloc(4 * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (bitpix === 32) raw.writeInt32BE(data[y * width + x], 4 * x);
      else raw.writeFloatBE(data[y * width + x], 4 * x);
    }
    for (let x = 0; x < width; x++) for (let k = 0; k < 4; k++) shuffled[k * width + x] = raw[4 * x + k];
    tiles.push(gzipSync(shuffled));
  }
  const maxLen = Math.max(...tiles.map((t) => t.length));
  const heapSize = tiles.reduce((n, t) => n + t.length, 0);
  const table = Buffer.alloc(8 * height);
  let off = 0;
  tiles.forEach((t, row) => {
    table.writeInt32BE(t.length, 8 * row);
    table.writeInt32BE(off, 8 * row + 4);
    off += t.length;
  });
  const head = header([
    ['XTENSION', 'BINTABLE'],
    ['BITPIX', 8],
    ['NAXIS', 2],
    ['NAXIS1', 8],
    ['NAXIS2', height],
    ['PCOUNT', heapSize],
    ['GCOUNT', 1],
    ['TFIELDS', 1],
    ['TTYPE1', 'COMPRESSED_DATA'],
    ['TFORM1', `1PB(${maxLen})`],
    ['ZIMAGE', true],
    ['ZTENSION', 'IMAGE'],
    ['ZBITPIX', bitpix],
    ['ZNAXIS', 2],
    ['ZNAXIS1', width],
    ['ZNAXIS2', height],
    ['ZPCOUNT', 0],
    ['ZGCOUNT', 1],
    ['ZTILE1', width],
    ['ZTILE2', 1],
    ['ZCMPTYPE', 'GZIP_2'],
    ...(bitpix === -32 ? ([['ZQUANTIZ', 'NONE']] as [string, FitsValue][]) : []),
    ['EXTNAME', extname],
    ['EXTVER', extver],
    ...cards,
  ]);
  const body = Buffer.concat([table, ...tiles]);
  const padded = Buffer.alloc(Math.ceil(body.length / BLOCK) * BLOCK);
  body.copy(padded);
  return Buffer.concat([head, padded]);
}
