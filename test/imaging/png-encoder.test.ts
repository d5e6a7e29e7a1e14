import { describe, expect, it } from 'vitest';
import { deflateSync, constants as zc } from 'node:zlib';
import { PNG } from 'pngjs';
import { encodeRaster } from '../../src/imaging/png/png-encoder.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';
import { renderColour } from '../../src/imaging/colour/presets.js';
import type { Raster8 } from '../../src/imaging/types.js';

/**
 * The hot-path PNG encoder: pngjs (an independent decoder) must read back
 * exactly our pixels, top row first; and its choice of filter and zlib
 * strategy, made from a sample of rows for speed, must not make PNGs
 * noticeably larger than the best whole-image choice.
 */

function raster(width: number, height: number, channels: 1 | 3, f: (i: number) => number): Raster8 {
  return { width, height, channels, data: Uint8Array.from({ length: width * height * channels }, (_, i) => f(i) & 255) };
}

/** PNG row filters, written out plainly from the PNG specification (section 9), whole image, one filter. */
function filtered(r: Raster8, filter: number): Uint8Array {
  const bpp = r.channels;
  const rowBytes = r.width * bpp;
  const out = new Uint8Array((rowBytes + 1) * r.height);
  const at = (y: number, x: number) => (y < 0 || x < 0 ? 0 : r.data[(r.height - 1 - y) * rowBytes + x]);
  for (let y = 0; y < r.height; y++) {
    out[y * (rowBytes + 1)] = filter;
    for (let x = 0; x < rowBytes; x++) {
      const a = at(y, x - bpp);
      const b = at(y - 1, x);
      const c = at(y - 1, x - bpp);
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][filter];
      out[y * (rowBytes + 1) + 1 + x] = (at(y, x) - pred) & 255;
    }
  }
  return out;
}

/** The smallest IDAT any single filter and any of the three strategies gives at this level. */
function bestIdat(r: Raster8, level: number): number {
  let best = Infinity;
  for (let f = 0; f < 5; f++) {
    const data = filtered(r, f);
    for (const strategy of [zc.Z_RLE, zc.Z_HUFFMAN_ONLY, zc.Z_DEFAULT_STRATEGY]) best = Math.min(best, deflateSync(data, { level, strategy, memLevel: 9 }).length);
  }
  return best;
}

function idatLength(png: Uint8Array): number {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let n = 0;
  for (let o = 8; o < png.length; ) {
    const len = dv.getUint32(o);
    if (String.fromCharCode(...png.subarray(o + 4, o + 8)) === 'IDAT') n += len;
    o += 12 + len;
  }
  return n;
}

describe('PNG encoder', () => {
  const shapes: [number, number, 1 | 3][] = [
    [1, 1, 3],
    [3, 7, 1],
    [7, 3, 3],
    [64, 64, 3],
    [33, 20, 1],
  ];
  for (const [w, h, ch] of shapes) {
    it(`pngjs reads back the exact pixels, top row first: ${w}x${h}, ${ch === 3 ? 'RGB' : 'grey'}`, () => {
      const r = raster(w, h, ch, (i) => (i * 37) ^ (i >> 3));
      const png = PNG.sync.read(Buffer.from(encodeRaster(r, 6)));
      expect([png.width, png.height]).toEqual([w, h]);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const src = ((h - 1 - y) * w + x) * ch;
          const dst = (y * w + x) * 4;
          const want = ch === 3 ? [r.data[src], r.data[src + 1], r.data[src + 2]] : [r.data[src], r.data[src], r.data[src]];
          expect([png.data[dst], png.data[dst + 1], png.data[dst + 2]]).toEqual(want);
        }
      }
    });
  }

  const images: [string, Raster8][] = [];
  for (const preset of ['lupton', 'sky-asinh', 'auto', 'legacy-survey', 'linear'] as const) {
    for (const size of [96, 256]) {
      const p = syntheticStamp(size, size, size + 5);
      images.push([`${preset} ${size}px colour`, renderColour([p[2], p[1], p[0]], { preset }).raster]);
    }
    const p = syntheticStamp(128, 128, 9);
    images.push([`${preset} 128px grey`, renderColour([p[1]], { preset }).raster]);
  }
  // Nearly black: a stretch far too soft for the data (values 0-10), where runs of equal bytes are common.
  const dim = syntheticStamp(256, 256, 77);
  images.push(['a nearly black stamp (lupton, stretch 1000)', renderColour([dim[2], dim[1], dim[0]], { preset: 'lupton', stretch: 1000, Q: 8, minimum: 0 }).raster]);
  images.push(['a flat field', raster(120, 120, 3, () => 17)]);
  for (const [name, r] of images) {
    it(`its filter and strategy, chosen from a sample, cost at most 2% over the best whole-image choice: ${name}`, () => {
      expect(idatLength(encodeRaster(r, 6))).toBeLessThanOrEqual(Math.ceil(bestIdat(r, 6) * 1.02));
    });
  }
});
