import { ImagingError } from '../types.js';
import { crc32 } from '../png/crc32.js';
import { bytesAccess, checkNoOverlap, entryDataStart, readZipDirectory, readZipEntry, ZipEntryDamaged, ZipRefused, type ZipEntry } from './zip-archive.js';

/**
 * Reader for the "ZIP of PNG/JPEG renderings" input shape (a Butler formatter
 * output, or a PI's own zip). The archive comes from outside, so it is read
 * with our own parser (zip-archive.ts) rather than jszip: every entry's
 * metadata is checked before a single byte is inflated, and each entry is
 * inflated with a hard output cap, so a lying header or a zip bomb costs at
 * most the cap, never the declared or real expansion.
 */

export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Uncompressed / compressed; enforced on entries larger than RATIO_FLOOR. */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = Object.freeze({
  maxEntries: 20_000,
  maxEntryBytes: 20 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxRatio: 200,
});

export interface ZipImage {
  /** Path inside the archive, as written by the producer. */
  name: string;
  /** 0-based position in natural name order among the images returned. */
  index: number;
  mime: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
  bytes: Uint8Array;
}

export interface ZipSkip {
  name: string;
  reason: string;
}

/**
 * A small text file of spaces can legitimately deflate 500:1; the ratio only
 * matters once an entry is big enough to hurt, and the per-entry and total
 * caps already bound anything below this.
 */
const RATIO_FLOOR = 64 * 1024;

const ARCHIVE_EXTENSIONS = new Set(['zip', 'tar', 'gz', 'tgz', '7z', 'bz2', 'tbz2', 'xz', 'txz', 'zst', 'rar', 'jar']);
const PNG_EXTENSIONS = new Set(['png']);
const JPEG_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'jfif']);

/**
 * Reads every PNG/JPEG in a ZIP. Anything that looks like an attack (paths
 * leaving the extraction root, symlinks, encryption, nested archives, sizes
 * or ratios over the limits, overlapping or inconsistent records) refuses the
 * whole archive with an ImagingError; an entry that is merely damaged or not
 * an image is reported in `skipped` and the rest are still read.
 */
export async function readImageZip(
  data: Uint8Array,
  file: string,
  limits?: Partial<ZipLimits>,
): Promise<{ images: ZipImage[]; skipped: ZipSkip[] }> {
  const lim: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...limits };
  const src = bytesAccess(data);
  let placed: { entry: ZipEntry; start: number }[];
  try {
    const entries = await readZipDirectory(src, lim.maxEntries);
    checkDeclared(entries, lim);
    placed = [];
    for (const entry of entries) if (!entry.isDirectory) placed.push({ entry, start: await entryDataStart(src, entry) });
    checkNoOverlap(placed);
  } catch (e) {
    if (e instanceof ZipRefused) throw refuse(file, e.entry, e.why);
    throw e;
  }

  const found: Omit<ZipImage, 'index'>[] = [];
  const skipped: ZipSkip[] = [];
  let total = 0;
  let sinceYield = 0;
  for (const { entry: e, start } of placed) {
    // The declared size is the tightest bound and is already within the
    // limits; the other two guard against a size that was never checked.
    const cap = Math.min(lim.maxEntryBytes, e.size, Math.max(RATIO_FLOOR, e.compressedSize * lim.maxRatio));
    let bytes: Uint8Array;
    try {
      bytes = await readZipEntry(src, e, start, cap);
    } catch (err) {
      if (err instanceof ZipRefused) throw refuse(file, err.entry, err.why);
      if (err instanceof ZipEntryDamaged) {
        skipped.push({ name: e.name, reason: err.why });
        continue;
      }
      throw err;
    }
    total += bytes.length;
    if (total > lim.maxTotalBytes) {
      throw refuse(file, e.name, `archive inflates past the ${lim.maxTotalBytes}-byte total limit`);
    }
    const verdict = classify(e.name, bytes);
    if (verdict.kind === 'archive') throw refuse(file, e.name, `nested archive (${verdict.what}) inside the ZIP`);
    if (verdict.kind === 'skip') skipped.push({ name: e.name, reason: verdict.reason });
    else found.push({ name: e.name, ...verdict.image, bytes });

    // The work is synchronous; hand the event loop back now and then so a
    // large archive does not stall a server's other requests.
    sinceYield += bytes.length;
    if (sinceYield > 8 * 1024 * 1024) {
      sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
  }

  found.sort((a, b) => naturalCompare(a.name, b.name));
  return { images: found.map((img, index) => ({ ...img, index })), skipped };
}

/** MIME type and pixel size from a PNG or JPEG header, without decoding pixels. */
export function imageDimensions(bytes: Uint8Array): { mime: 'image/png' | 'image/jpeg'; width: number; height: number } {
  if (isPng(bytes)) return { mime: 'image/png', ...pngSize(bytes) };
  if (isJpeg(bytes)) return { mime: 'image/jpeg', ...jpegSize(bytes) };
  throw new ImagingError('not a PNG or JPEG (unrecognised signature)');
}

// ---------------------------------------------------------------------------
// Limits

function refuse(file: string, entry: string | undefined, why: string): ImagingError {
  const field = entry === undefined ? undefined : `entry ${JSON.stringify(entry)}`;
  return new ImagingError(`${why}; archive refused`, { file, field });
}

/** Every size check that needs no inflation, so a hostile archive costs nothing. */
function checkDeclared(entries: ZipEntry[], lim: ZipLimits): void {
  let declaredTotal = 0;
  for (const e of entries) {
    if (e.isDirectory) continue;
    if (isArchiveName(e.name)) throw new ZipRefused('nested archive inside the ZIP', e.name);
    if (e.size > lim.maxEntryBytes) throw new ZipRefused(`declares ${e.size} bytes, over the per-entry limit of ${lim.maxEntryBytes}`, e.name);
    declaredTotal += e.size;
    if (declaredTotal > lim.maxTotalBytes) throw new ZipRefused(`declared sizes add up past the ${lim.maxTotalBytes}-byte total limit`, e.name);
    if (e.size > RATIO_FLOOR && e.size > e.compressedSize * lim.maxRatio) {
      const ratio = e.compressedSize === 0 ? 'infinite' : (e.size / e.compressedSize).toFixed(0);
      throw new ZipRefused(`declared compression ratio ${ratio} is over the limit of ${lim.maxRatio} (zip bomb?)`, e.name);
    }
  }
}

// ---------------------------------------------------------------------------
// Classification

type Verdict =
  | { kind: 'image'; image: { mime: 'image/png' | 'image/jpeg'; width: number; height: number } }
  | { kind: 'archive'; what: string }
  | { kind: 'skip'; reason: string };

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function isArchiveName(name: string): boolean {
  return ARCHIVE_EXTENSIONS.has(extensionOf(name));
}

function archiveMagic(b: Uint8Array): string | undefined {
  const starts = (...sig: number[]): boolean => b.length >= sig.length && sig.every((v, i) => b[i] === v);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06) || starts(0x50, 0x4b, 0x07, 0x08)) return 'ZIP';
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return '7z';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0x52, 0x61, 0x72, 0x21, 0x1a, 0x07)) return 'RAR';
  if (starts(0x42, 0x5a, 0x68) && b.length > 3 && b[3] >= 0x31 && b[3] <= 0x39) return 'bzip2';
  if (b.length >= 262 && String.fromCharCode(...b.subarray(257, 262)) === 'ustar') return 'tar';
  return undefined;
}

function classify(name: string, bytes: Uint8Array): Verdict {
  const nested = archiveMagic(bytes);
  if (nested) return { kind: 'archive', what: nested };

  const ext = extensionOf(name);
  const claims = PNG_EXTENSIONS.has(ext) ? 'PNG' : JPEG_EXTENSIONS.has(ext) ? 'JPEG' : undefined;
  const is = isPng(bytes) ? 'PNG' : isJpeg(bytes) ? 'JPEG' : undefined;
  if (!is) {
    return { kind: 'skip', reason: claims ? `named .${ext} but the content is not a ${claims}` : 'not a PNG or JPEG image' };
  }
  // An extensionless file is judged by content alone; any other extension
  // that disagrees with the content means the producer and the name differ.
  if (ext !== '' && claims !== is) return { kind: 'skip', reason: `content is a ${is} but the name ends in .${ext}` };
  try {
    return { kind: 'image', image: imageDimensions(bytes) };
  } catch (err) {
    return { kind: 'skip', reason: `corrupt ${is} header: ${(err as Error).message}` };
  }
}

// ---------------------------------------------------------------------------
// Image headers

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

function be16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function be32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** PNG allowed bit depths per colour type (PNG spec, table 11.1). */
const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

function pngSize(b: Uint8Array): { width: number; height: number } {
  // IHDR must be the first chunk: 8 signature + 4 length + 4 type + 13 data + 4 CRC.
  if (b.length < 33) throw new ImagingError('PNG is too short to hold an IHDR chunk');
  if (be32(b, 8) !== 13 || String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR') throw new ImagingError('PNG does not start with a valid IHDR chunk');
  if (crc32(b.subarray(12, 29)) !== be32(b, 29)) throw new ImagingError('PNG IHDR CRC mismatch');
  const width = be32(b, 16);
  const height = be32(b, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw new ImagingError(`PNG IHDR has invalid size ${width} x ${height}`);
  const depth = b[24];
  const colour = b[25];
  if (!PNG_DEPTHS[colour]?.includes(depth)) throw new ImagingError(`PNG IHDR has invalid colour type ${colour} / bit depth ${depth}`);
  if (b[26] !== 0 || b[27] !== 0 || b[28] > 1) throw new ImagingError('PNG IHDR has an unknown compression, filter or interlace method');
  return { width, height };
}

/** SOF0-3, 5-7, 9-11, 13-15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function jpegSize(b: Uint8Array): { width: number; height: number } {
  let at = 2;
  // Each iteration advances by at least two bytes, so this ends on any input.
  while (at < b.length) {
    if (b[at] !== 0xff) throw new ImagingError(`JPEG marker expected at byte ${at}`);
    // Markers may be preceded by any number of 0xFF fill bytes.
    while (at < b.length && b[at] === 0xff) at++;
    if (at >= b.length) break;
    const m = b[at++];
    if (m === 0xd8 || m === 0xd9 || m === 0xda || m === 0x00) throw new ImagingError(`JPEG has no frame header before marker 0x${m.toString(16).toUpperCase()}`);
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) continue; // standalone, no length
    if (at + 2 > b.length) break;
    const len = be16(b, at);
    if (len < 2) throw new ImagingError(`JPEG segment 0xFF${m.toString(16).toUpperCase()} has invalid length ${len}`);
    if (at + len > b.length) break;
    if (isSof(m)) {
      if (len < 8) throw new ImagingError('JPEG frame header is too short');
      const height = be16(b, at + 3);
      const width = be16(b, at + 5);
      const components = b[at + 7];
      if (width === 0 || height === 0) throw new ImagingError(`JPEG frame has invalid size ${width} x ${height}`);
      if (components === 0 || len !== 8 + 3 * components) throw new ImagingError('JPEG frame header has an inconsistent component count');
      return { width, height };
    }
    at += len;
  }
  throw new ImagingError('JPEG ends before its frame header (truncated)');
}

// ---------------------------------------------------------------------------

/** Orders names as people count: `_2` before `_10`; ties fall back to code-unit order so the result is total. */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === y) continue;
    const xd = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const yd = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (xd && yd) {
      // Compared as digit strings so counters beyond 2^53 still order correctly.
      const xs = x.replace(/^0+/, '');
      const ys = y.replace(/^0+/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (ta.length !== tb.length) return ta.length - tb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
