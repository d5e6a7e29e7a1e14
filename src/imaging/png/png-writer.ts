import { ImagingError, type Raster8 } from '../types.js';
import { avmXmp, type AvmSpatial } from './avm.js';
import { textChunk, xmpChunk } from './png-chunks.js';
import { encodeRaster } from './png-encoder.js';

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
  const chunks: Uint8Array[] = [];
  const xmp = avmXmp(opts.spatial);
  if (xmp) chunks.push(xmpChunk(xmp));
  for (const [k, v] of Object.entries(opts.text ?? {})) chunks.push(textChunk(k, v));
  const out = encodeRaster(r, opts.level, chunks);
  if (out.length > opts.maxBytes) {
    throw new ImagingError(
      `PNG would be ${out.length} bytes, over the ${opts.maxBytes}-byte limit; use --max-side to shrink it or a higher --level`,
      { field: 'maxBytes' },
    );
  }
  return out;
}
