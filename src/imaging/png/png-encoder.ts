import * as zlib from 'node:zlib';
import type { Raster8 } from '../types.js';
import { chunk, writeChunk } from './png-chunks.js';
import { concatBytes } from '../bytes.js';

/**
 * A small 8-bit grey/RGB PNG encoder for the hot path. pngjs's encoder spends
 * longer choosing filters row by row in JavaScript than zlib spends
 * compressing (measured in bench:convert); here the filter is chosen once per
 * image from a sample of rows filtered with each of the five filters, by an
 * estimate of their compressed size, which on sky images is as small as
 * per-row heuristics and far cheaper (see chooseEncoding). pngjs still decodes our
 * output in the tests, an independent check of this encoder.
 */

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const SAMPLE_ROWS = 16;
/** RLE at most this fraction of the default strategy at level 1 is taken without a trial at the full level (see chooseEncoding). */
const RLE_SURE = 0.95;

function filterRow(f: number, cur: Uint8Array, prev: Uint8Array | undefined, bpp: number, out: Uint8Array, o: number): void {
  const n = cur.length;
  out[o] = f;
  o++;
  switch (f) {
    case 0:
      out.set(cur, o);
      break;
    case 1:
      for (let x = 0; x < bpp; x++) out[o + x] = cur[x];
      for (let x = bpp; x < n; x++) out[o + x] = cur[x] - cur[x - bpp];
      break;
    case 2:
      if (!prev) out.set(cur, o);
      else for (let x = 0; x < n; x++) out[o + x] = cur[x] - prev[x];
      break;
    case 3:
      for (let x = 0; x < n; x++) {
        const a = x >= bpp ? cur[x - bpp] : 0;
        const b = prev ? prev[x] : 0;
        out[o + x] = cur[x] - ((a + b) >> 1);
      }
      break;
    default:
      for (let x = 0; x < n; x++) {
        const a = x >= bpp ? cur[x - bpp] : 0;
        const b = prev ? prev[x] : 0;
        const c = prev && x >= bpp ? prev[x - bpp] : 0;
        const p = a + b - c;
        const pa = p > a ? p - a : a - p;
        const pb = p > b ? p - b : b - p;
        const pc = p > c ? p - c : c - p;
        out[o + x] = cur[x] - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
  }
}

/**
 * Estimated size, in bits, of a filtered sample deflated with Z_RLE: each
 * literal costs its information content in the sample (-log2 of its
 * frequency, which Huffman coding approaches), and each run of a repeated
 * byte, which Z_RLE codes as one length/distance pair per 258 bytes, about
 * RUN_BITS. It ranks the five filters for ~18 us a 12 KB sample where a
 * trial deflate took ~70 us, and picks the filter the trial deflates picked
 * on 119 of 120 test stamps (every preset, 64-424 px), within 1.2% of its
 * size on the other; bench:convert prints the PNG sizes against astropy's.
 */
function rleBitsEstimate(buf: Uint8Array): number {
  const counts = byteCounts;
  counts.fill(0);
  let runs = 0;
  let prev = -1;
  let repeats = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === prev) {
      repeats++;
      continue;
    }
    if (repeats >= 3) runs += Math.ceil(repeats / 258);
    else if (repeats) counts[prev] += repeats;
    prev = b;
    repeats = 0;
    counts[b]++;
  }
  if (repeats >= 3) runs += Math.ceil(repeats / 258);
  else if (repeats) counts[prev] += repeats;
  let n = 0;
  let sum = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b];
    if (c) {
      n += c;
      sum += c * Math.log2(c);
    }
  }
  return (n ? n * Math.log2(n) - sum : 0) + runs * RUN_BITS;
}

const byteCounts = new Uint32Array(256);
/** A Z_RLE length/distance pair: a length code with its extra bits, and the (short) code of distance 1. */
const RUN_BITS = 8;

/**
 * Chooses the PNG filter and the zlib strategy for the whole image from a
 * sample of rows. Sky images are mostly noise, where LZ77 match-finding buys
 * nothing: Z_RLE is then both smaller and about three times faster than the
 * default strategy at the same level; images with real structure keep the
 * default. Rows are given top first (PNG order).
 *
 * The filter is the one whose filtered sample has the smallest
 * rleBitsEstimate. The strategy is settled by real deflates of that sample,
 * kept cheap as they run for every stamp: zlib's Z_RLE and Z_HUFFMAN_ONLY
 * ignore the level (every level above 0 runs the same deflate_rle or
 * deflate_huff), so their level-1 sizes are their sizes at `level`, and the
 * smaller of the two (Huffman on a tie) is the cheap candidate; the default
 * strategy is tried at level 1 first (deflate_fast, a fraction of level 6's
 * cost), which settles most images without trying it at `level`:
 * - the cheap candidate more than 1% larger than the default strategy at
 *   level 1: the default wins (a higher level only finds longer matches);
 * - the cheap candidate at most RLE_SURE of the default at level 1: it wins, because a
 *   higher level gains less than 6% over level 1 on these samples (measured
 *   on every preset at 64-424 px: at most 5.2%, on sky-asinh, whose RLE/level-1
 *   ratio is near 1 and so is tried at `level` anyway).
 */
function chooseEncoding(rowAt: (y: number) => Uint8Array, height: number, rowBytes: number, bpp: number, level: number): { filter: number; strategy: number } {
  const RLE = zlib.constants.Z_RLE;
  const HUFF = zlib.constants.Z_HUFFMAN_ONLY;
  const DEFAULT = zlib.constants.Z_DEFAULT_STRATEGY;
  if (height < 2 || level === 0) return { filter: 0, strategy: DEFAULT };
  const step = Math.max(1, Math.floor(height / SAMPLE_ROWS));
  const ys: number[] = [];
  for (let y = step; y < height && ys.length < SAMPLE_ROWS; y += step) ys.push(y);
  const buf = trialScratch(ys.length * (rowBytes + 1));
  let filter = 0;
  let best = Infinity;
  for (let f = 0; f < 5; f++) {
    ys.forEach((y, k) => filterRow(f, rowAt(y), rowAt(y - 1), bpp, buf, k * (rowBytes + 1)));
    const bits = rleBitsEstimate(buf);
    if (bits < best) {
      best = bits;
      filter = f;
    }
  }
  ys.forEach((y, k) => filterRow(filter, rowAt(y), rowAt(y - 1), bpp, buf, k * (rowBytes + 1)));
  // Literal-only coding (Z_HUFFMAN_ONLY) skips even RLE's scan for runs: on
  // noise-dominated stamps, with few runs, it is both smaller and faster, so
  // it is taken wherever it is no larger. Like Z_RLE it ignores the level.
  const rleSize = zlib.deflateRawSync(buf, { level: 1, strategy: RLE }).length;
  const huffSize = zlib.deflateRawSync(buf, { level: 1, strategy: HUFF }).length;
  const [cheap, cheapStrategy] = huffSize <= rleSize ? [huffSize, HUFF] : [rleSize, RLE];
  const lzAt = (l: number) => zlib.deflateRawSync(buf, { level: l, strategy: DEFAULT }).length;
  if (level > 1) {
    const fast = lzAt(1);
    if (cheap <= fast * RLE_SURE) return { filter, strategy: cheapStrategy };
    if (cheap > fast * 1.01) return { filter, strategy: DEFAULT };
  }
  // Within 1% the faster strategy wins.
  return { filter, strategy: cheap <= lzAt(level) * 1.01 ? cheapStrategy : DEFAULT };
}

/**
 * What encodeRaster gives zlib for a raster: its filtered scanlines (top row
 * first) and the zlib strategy. Exported for bench:convert, whose floor is
 * this deflate alone. `scanlines` is a scratch buffer, valid until the next
 * call in this thread.
 */
export function deflateInput(r: Raster8, level: number): { scanlines: Uint8Array; strategy: number } {
  const bpp = r.channels;
  const rowBytes = r.width * bpp;
  // PNG row y is raster row (height - 1 - y): the flip costs nothing here.
  const rowAt = (y: number) => {
    const src = (r.height - 1 - y) * rowBytes;
    return r.data.subarray(src, src + rowBytes);
  };
  const { filter, strategy } = chooseEncoding(rowAt, r.height, rowBytes, bpp, level);
  const scanlines = scratch((rowBytes + 1) * r.height);
  for (let y = 0; y < r.height; y++) filterRow(filter, rowAt(y), y > 0 ? rowAt(y - 1) : undefined, bpp, scanlines, y * (rowBytes + 1));
  return { scanlines, strategy };
}

/**
 * Encodes a raster whose row 0 is the bottom (FITS order) as a PNG whose
 * first row is the top. `extra` chunks go right after IHDR.
 */
export function encodeRaster(r: Raster8, level: number, extra: Uint8Array[] = []): Uint8Array {
  const { scanlines, strategy } = deflateInput(r, level);
  const idat = zlib.deflateSync(scanlines, { level, strategy, memLevel: 9 });

  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, r.width);
  dv.setUint32(4, r.height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = r.channels === 3 ? 2 : 0; // colour type: RGB or grey
  // compression 0, filter method 0, no interlace
  // One allocation for the file; the compressed data is copied once, into it.
  const head = concatBytes([SIGNATURE, chunk('IHDR', ihdr), ...extra]);
  const out = new Uint8Array(head.length + 12 + idat.length + 12);
  out.set(head);
  writeChunk(out, writeChunk(out, head.length, 'IDAT', idat), 'IEND', EMPTY);
  return out;
}

const EMPTY = new Uint8Array(0);
let scratchBuf = new Uint8Array(0);
let trialBuf = new Uint8Array(0);

/** The filtered sample rows of chooseEncoding, reused like `scratch`. */
function trialScratch(n: number): Uint8Array {
  if (trialBuf.length < n) trialBuf = new Uint8Array(n);
  return trialBuf.subarray(0, n);
}

/**
 * A buffer for the filtered rows, reused from image to image: it is only
 * read by the (synchronous) deflate before encodeRaster returns, and a new
 * one for every stamp was a large share of the garbage per stamp.
 */
function scratch(n: number): Uint8Array {
  if (scratchBuf.length < n) scratchBuf = new Uint8Array(n);
  return scratchBuf.subarray(0, n);
}
