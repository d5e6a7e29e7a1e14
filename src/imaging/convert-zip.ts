import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, basename } from 'node:path';
import pngjs from 'pngjs';
import { readImageZip, type ZipImage } from './cutouts/zip-images.js';
import { encodePng } from './png/png-writer.js';
import { chunk, insertAfterIhdr, readChunks, textChunk } from './png/png-chunks.js';
import { ImagingError, type Raster8 } from './types.js';
import { SOFTWARE } from './version.js';
import type { ConvertSetResult, StampLine } from './convert-set.js';
import type { StampRecord } from './convert.js';
import { concatBytes } from './bytes.js';

/** Largest PNG we will decode to resample (64 Mpx RGBA is 256 MB). */
const MAX_DECODE_PIXELS = 64 * 1024 * 1024;

export interface ZipConvertOptions {
  maxSide?: number;
  level: number;
  maxBytes: number;
}

/** One image of an archive, ready to store: a PNG with provenance, or a JPEG as it was. */
export interface ZipStamp {
  index: number;
  /** The entry's path inside the archive. */
  entry: string;
  ext: 'png' | 'jpg';
  bytes: Uint8Array;
  record: StampRecord;
}

/**
 * The third input shape: a ZIP of PNG/JPEG renderings written by a Butler
 * formatter. They are already colour images, so they pass through: PNGs get
 * provenance chunks (and are shrunk when over --max-side), JPEGs are copied.
 * No sky coordinates are known for them. Works on the archive's bytes;
 * `name` stands for its file in messages and provenance. Each image goes to
 * `onImage` as it is ready (an error there stops the conversion).
 */
export async function convertZipBytes(
  archive: Uint8Array,
  name: string,
  opts: ZipConvertOptions,
  onImage: (img: ZipStamp) => Promise<void> | void,
  onProgress?: (d: number, t: number) => void,
): Promise<ConvertSetResult> {
  const { images, skipped } = await readImageZip(archive, name);
  const failed: { index: number; error: string }[] = [];
  const warnings = skipped.map((s) => `${name}: entry ${s.name} skipped: ${s.reason}`);
  let converted = 0;
  for (const img of images) {
    let out: ZipStamp;
    try {
      out = passThrough(img, basename(name), opts);
    } catch (e) {
      failed.push({ index: img.index, error: `${img.name}: ${(e as Error).message}` });
      onProgress?.(converted + failed.length, images.length);
      continue;
    }
    await onImage(out);
    converted++;
    onProgress?.(converted + failed.length, images.length);
  }
  return { total: images.length, converted, failed, warnings };
}

function passThrough(img: ZipImage, file: string, opts: ZipConvertOptions): ZipStamp {
  const ext = img.mime === 'image/png' ? 'png' : 'jpg';
  const provenance = JSON.stringify({ software: SOFTWARE, sources: [{ file, entry: img.name }], stamp: img.index, wcs: 'none' });
  let bytes: Uint8Array;
  let width = img.width;
  let height = img.height;
  const tooBig = opts.maxSide !== undefined && Math.max(width, height) > opts.maxSide;
  if (img.mime === 'image/png') {
    if (tooBig) {
      // The header's size is checked before decoding: a tiny PNG can claim a huge raster.
      if (width * height > MAX_DECODE_PIXELS) {
        throw new ImagingError(`PNG claims ${width} x ${height} pixels, over the ${MAX_DECODE_PIXELS}-pixel limit for resampling`, { field: img.name });
      }
      const small = shrink(decodePng(img.bytes, img.name), opts.maxSide!);
      width = small.width;
      height = small.height;
      bytes = encodePng(small, { level: opts.level, maxBytes: opts.maxBytes, text: { Software: SOFTWARE, Source: img.name, 'bridge:provenance': provenance } });
    } else {
      bytes = insertAfterIhdr(stripText(img.bytes), [textChunk('Software', SOFTWARE), textChunk('Source', img.name), textChunk('bridge:provenance', provenance)]);
    }
  } else {
    if (tooBig) throw new ImagingError(`JPEG is ${width} x ${height}, over --max-side ${opts.maxSide}; JPEGs are passed through, not resampled`, { field: img.name });
    bytes = img.bytes;
  }
  if (bytes.length > opts.maxBytes) {
    throw new ImagingError(`image would be ${bytes.length} bytes, over the ${opts.maxBytes}-byte limit`, { field: img.name });
  }
  return { index: img.index, entry: img.name, ext, bytes, record: { index: img.index, ra: null, dec: null, width, height, wcs: 'none', bytes: bytes.length } };
}

/** The archive at `path` converted into outDir: stamp-NNNNN.png/.jpg files and stamps.jsonl, the command line's output. */
export async function convertZip(path: string, outDir: string, opts: ZipConvertOptions, onProgress?: (d: number, t: number) => void): Promise<ConvertSetResult> {
  await mkdir(outDir, { recursive: true });
  const lines: StampLine[] = [];
  const unwritten: { index: number; error: string }[] = [];
  const result = await convertZipBytes(
    await readFile(path),
    path,
    opts,
    async (img) => {
      const file = `stamp-${String(img.index).padStart(5, '0')}.${img.ext}`;
      try {
        await writeFile(join(outDir, file), img.bytes);
        lines.push({ file, ...img.record });
      } catch (e) {
        unwritten.push({ index: img.index, error: `${img.entry}: ${(e as Error).message}` });
      }
    },
    onProgress,
  );
  await writeFile(join(outDir, 'stamps.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  if (!unwritten.length) return result;
  return { ...result, converted: result.converted - unwritten.length, failed: [...result.failed, ...unwritten].sort((a, b) => a.index - b.index) };
}

/** Drops earlier provenance so a re-run does not stack tEXt chunks. */
function stripText(png: Uint8Array): Uint8Array {
  const chunks = readChunks(png);
  if (!chunks.some((c) => c.type === 'tEXt')) return png;
  const parts = [png.subarray(0, 8), ...chunks.filter((c) => c.type !== 'tEXt').map((c) => chunk(c.type, c.data))];
  return concatBytes(parts);
}

function decodePng(bytes: Uint8Array, name: string): Raster8 {
  let png: pngjs.PNG;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new ImagingError(`PNG cannot be decoded: ${(e as Error).message}`, { field: name });
  }
  // pngjs gives RGBA top-down; our rasters are bottom-up (FITS order), so flip while dropping alpha.
  const { width, height } = png;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = (height - 1 - y) * width * 4;
    for (let x = 0; x < width; x++) {
      data.set(png.data.subarray(src + 4 * x, src + 4 * x + 3), (y * width + x) * 3);
    }
  }
  return { width, height, channels: 3, data };
}

/** Box-average shrink of an 8-bit raster so its longer side is maxSide. */
function shrink(r: Raster8, maxSide: number): Raster8 {
  const f = maxSide / Math.max(r.width, r.height);
  const ow = Math.max(1, Math.round(r.width * f));
  const oh = Math.max(1, Math.round(r.height * f));
  const out = new Uint8Array(ow * oh * 3);
  for (let oy = 0; oy < oh; oy++) {
    const y0 = Math.floor((oy * r.height) / oh);
    const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * r.height) / oh));
    for (let ox = 0; ox < ow; ox++) {
      const x0 = Math.floor((ox * r.width) / ow);
      const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * r.width) / ow));
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += r.data[(y * r.width + x) * 3 + c];
        out[(oy * ow + ox) * 3 + c] = Math.round(s / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return { width: ow, height: oh, channels: 3, data: out };
}
