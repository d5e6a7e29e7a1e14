import pngjs from 'pngjs';
import { constants as zlibConstants } from 'node:zlib';
import { ImagingError, type Raster8 } from '../types.js';
import { avmXmp, type AvmSpatial } from './avm.js';
import { insertAfterIhdr, textChunk, xmpChunk } from './png-chunks.js';

export interface PngOptions {
  /** zlib level 0-9; 6 is zlib's and Pillow's default. */
  level: number;
  /** Refuse outputs larger than this (Zooniverse subjects must stay under 1 MB). */
  maxBytes: number;
  spatial?: AvmSpatial;
  /** tEXt chunks, e.g. provenance; keys are PNG keywords (1-79 Latin-1 chars). */
  text?: Record<string, string>;
}

export const DEFAULT_MAX_PNG_BYTES = 1_000_000;

/**
 * Encodes a raster whose row 0 is FITS row 0 (the bottom) into a PNG whose
 * first row is the top, so north is up for a standard WCS. AVM goes right
 * after IHDR, provenance after it.
 */
export function encodePng(r: Raster8, opts: PngOptions): Uint8Array {
  if (!Number.isInteger(opts.level) || opts.level < 0 || opts.level > 9) {
    throw new ImagingError(`zlib level must be an integer 0-9, got ${opts.level}`, { field: 'level' });
  }
  const flipped = flipRows(r);
  const colorType = r.channels === 3 ? 2 : 0;
  const png = new pngjs.PNG({ width: r.width, height: r.height, colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(flipped.buffer, flipped.byteOffset, flipped.byteLength);
  const encoded = pngjs.PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
    deflateLevel: opts.level,
    // pngjs defaults to Z_RLE; the default strategy is what Pillow and libpng use.
    deflateStrategy: zlibConstants.Z_DEFAULT_STRATEGY,
  });
  const chunks: Uint8Array[] = [];
  const xmp = avmXmp(opts.spatial);
  if (xmp) chunks.push(xmpChunk(xmp));
  for (const [k, v] of Object.entries(opts.text ?? {})) chunks.push(textChunk(k, v));
  const out = insertAfterIhdr(new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength), chunks);
  if (out.length > opts.maxBytes) {
    throw new ImagingError(
      `PNG would be ${out.length} bytes, over the ${opts.maxBytes}-byte limit; use --max-side to shrink it or a higher --level`,
      { field: 'maxBytes' },
    );
  }
  return out;
}

function flipRows(r: Raster8): Uint8Array {
  const rowBytes = r.width * r.channels;
  const out = new Uint8Array(rowBytes * r.height);
  for (let y = 0; y < r.height; y++) {
    const src = y * rowBytes;
    out.set(r.data.subarray(src, src + rowBytes), (r.height - 1 - y) * rowBytes);
  }
  return out;
}
