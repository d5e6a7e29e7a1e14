import * as zlib from 'node:zlib';
import { ImagingError } from '../types.js';
import { crc32 } from '../png/crc32.js';

/**
 * Reader for the "ZIP of PNG/JPEG renderings" input shape (a Butler formatter
 * output, or a PI's own zip). The archive comes from outside, so it is read
 * with our own central-directory parser rather than jszip: every entry's
 * metadata is checked before a single byte is inflated, and each entry is
 * inflated by node:zlib with a hard output cap, so a lying header or a zip
 * bomb costs at most the cap, never the declared or real expansion.
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

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const METHOD_AES = 99;

const ARCHIVE_EXTENSIONS = new Set(['zip', 'tar', 'gz', 'tgz', '7z', 'bz2', 'tbz2', 'xz', 'txz', 'zst', 'rar', 'jar']);
const PNG_EXTENSIONS = new Set(['png']);
const JPEG_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'jfif']);

interface Entry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Filled in by the local-header pass. */
  dataStart: number;
  isDirectory: boolean;
}

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
  const entries = readCentralDirectory(data, file, lim);
  checkEntries(data, entries, file, lim);

  const found: Omit<ZipImage, 'index'>[] = [];
  const skipped: ZipSkip[] = [];
  let total = 0;
  let sinceYield = 0;
  for (const e of entries) {
    if (e.isDirectory) continue;
    const outcome = extract(data, e, file, lim);
    if ('skip' in outcome) {
      skipped.push({ name: e.name, reason: outcome.skip });
      continue;
    }
    total += outcome.bytes.length;
    if (total > lim.maxTotalBytes) {
      throw refuse(file, e.name, `archive inflates past the ${lim.maxTotalBytes}-byte total limit`);
    }
    const verdict = classify(e.name, outcome.bytes);
    if (verdict.kind === 'archive') throw refuse(file, e.name, `nested archive (${verdict.what}) inside the ZIP`);
    if (verdict.kind === 'skip') skipped.push({ name: e.name, reason: verdict.reason });
    else found.push({ name: e.name, ...verdict.image, bytes: outcome.bytes });

    // The work is synchronous; hand the event loop back now and then so a
    // large archive does not stall a server's other requests.
    sinceYield += outcome.bytes.length;
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
// Central directory

function refuse(file: string, entry: string | undefined, why: string): ImagingError {
  const field = entry === undefined ? undefined : `entry ${JSON.stringify(entry)}`;
  return new ImagingError(`${why}; archive refused`, { file, field });
}

function u16(d: Uint8Array, at: number): number {
  return d[at] | (d[at + 1] << 8);
}

function u32(d: Uint8Array, at: number): number {
  return (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
}

/** 64-bit sizes beyond 2^53 cannot be real for an in-memory buffer. */
function u64(d: Uint8Array, at: number, file: string, what: string): number {
  const lo = u32(d, at);
  const hi = u32(d, at + 4);
  if (hi >= 0x200000) throw refuse(file, undefined, `implausible ZIP64 ${what}`);
  return hi * 0x100000000 + lo;
}

function findEocd(data: Uint8Array, file: string): number {
  // The record is 22 bytes plus a comment of at most 65535; scanning further
  // back would only let garbage masquerade as a record.
  const lowest = Math.max(0, data.length - 22 - 0xffff);
  for (let at = data.length - 22; at >= lowest; at--) {
    if (u32(data, at) === SIG_EOCD && at + 22 + u16(data, at + 20) <= data.length) return at;
  }
  throw refuse(file, undefined, 'not a ZIP archive (no end-of-central-directory record; truncated?)');
}

function readCentralDirectory(data: Uint8Array, file: string, lim: ZipLimits): Entry[] {
  const eocd = findEocd(data, file);
  let disk = u16(data, eocd + 4);
  let cdDisk = u16(data, eocd + 6);
  let countHere = u16(data, eocd + 8);
  let count = u16(data, eocd + 10);
  let cdSize = u32(data, eocd + 12);
  let cdOffset = u32(data, eocd + 16);
  let cdLimit = eocd;

  if (count === 0xffff || countHere === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(data, loc) !== SIG_ZIP64_LOCATOR) throw refuse(file, undefined, 'ZIP64 archive without a ZIP64 locator');
    const rec = u64(data, loc + 8, file, 'record offset');
    if (rec + 56 > loc || u32(data, rec) !== SIG_ZIP64_EOCD) throw refuse(file, undefined, 'ZIP64 end-of-central-directory record missing or misplaced');
    disk = u32(data, rec + 16);
    cdDisk = u32(data, rec + 20);
    countHere = u64(data, rec + 24, file, 'entry count');
    count = u64(data, rec + 32, file, 'entry count');
    cdSize = u64(data, rec + 40, file, 'directory size');
    cdOffset = u64(data, rec + 48, file, 'directory offset');
    cdLimit = rec;
  }

  if (disk !== 0 || cdDisk !== 0) throw refuse(file, undefined, 'multi-volume (spanned) archives are not supported');
  if (countHere !== count) throw refuse(file, undefined, 'end record gives two different entry counts');
  if (count > lim.maxEntries) throw refuse(file, undefined, `${count} entries, over the limit of ${lim.maxEntries}`);
  if (cdOffset + cdSize > cdLimit) throw refuse(file, undefined, 'central directory extends past its end record (truncated or corrupt)');

  const entries: Entry[] = [];
  let at = cdOffset;
  const end = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || u32(data, at) !== SIG_CENTRAL) throw refuse(file, undefined, `central directory record ${i} is corrupt`);
    const flags = u16(data, at + 8);
    const method = u16(data, at + 10);
    const crc = u32(data, at + 16);
    let compressedSize = u32(data, at + 20);
    let size = u32(data, at + 24);
    const nameLen = u16(data, at + 28);
    const extraLen = u16(data, at + 30);
    const commentLen = u16(data, at + 32);
    const externalAttr = u32(data, at + 38);
    let localOffset = u32(data, at + 42);
    const next = at + 46 + nameLen + extraLen + commentLen;
    if (next > end) throw refuse(file, undefined, `central directory record ${i} overruns the directory`);

    const name = decodeName(data.subarray(at + 46, at + 46 + nameLen), flags, file);
    checkName(name, file);
    if (((externalAttr >>> 16) & 0o170000) === 0o120000) {
      throw refuse(file, name, 'symbolic link');
    }
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || method === METHOD_AES) throw refuse(file, name, 'encrypted entry');

    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      const z = zip64Extra(data.subarray(at + 46 + nameLen, at + 46 + nameLen + extraLen), file, name);
      // The ZIP64 field lists only the values whose 32-bit slot overflowed, in this order.
      let k = 0;
      const take = (): number => {
        if (k >= z.length) throw refuse(file, name, 'ZIP64 extra field is too short');
        return z[k++];
      };
      if (size === 0xffffffff) size = take();
      if (compressedSize === 0xffffffff) compressedSize = take();
      if (localOffset === 0xffffffff) localOffset = take();
    }

    entries.push({ name, flags, method, crc, compressedSize, size, localOffset, dataStart: -1, isDirectory: name.endsWith('/') });
    at = next;
  }
  return entries;
}

function zip64Extra(extra: Uint8Array, file: string, name: string): number[] {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = u16(extra, at);
    const len = u16(extra, at + 2);
    if (at + 4 + len > extra.length) break;
    if (id === 0x0001) {
      const out: number[] = [];
      for (let k = 0; k + 8 <= len; k += 8) out.push(u64(extra, at + 4 + k, file, 'size'));
      return out;
    }
    at += 4 + len;
  }
  throw refuse(file, name, 'ZIP64 sizes announced but no ZIP64 extra field');
}

function decodeName(raw: Uint8Array, flags: number, file: string): string {
  if (flags & FLAG_UTF8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw refuse(file, undefined, 'an entry name is not valid UTF-8');
    }
  }
  // Without the UTF-8 flag the bytes are nominally CP437; ASCII is the same
  // either way, and a Latin-1 reading keeps other bytes visible in messages.
  return Buffer.from(raw).toString('latin1');
}

function checkName(name: string, file: string): void {
  if (name.length === 0) throw refuse(file, name, 'empty entry name');
  // Control characters have no business in a cutout name and would let a
  // name rewrite log lines or terminal output downstream.
  if (/[\u0000-\u001f\u007f]/.test(name)) throw refuse(file, name, 'control character in entry name');
  if (name.includes('\\')) throw refuse(file, name, 'backslash in entry name (Windows path separator could escape the extraction directory)');
  if (name.startsWith('/')) throw refuse(file, name, 'absolute path');
  if (/^[A-Za-z]:/.test(name)) throw refuse(file, name, 'absolute path (drive letter)');
  if (name.split('/').includes('..')) throw refuse(file, name, "path traversal ('..' segment)");
}

/** Every check that needs no inflation, so a hostile archive costs nothing. */
function checkEntries(data: Uint8Array, entries: Entry[], file: string, lim: ZipLimits): void {
  const seen = new Set<string>();
  let declaredTotal = 0;
  for (const e of entries) {
    if (seen.has(e.name)) throw refuse(file, e.name, 'duplicate entry name (two records could resolve differently)');
    seen.add(e.name);
    if (e.isDirectory) continue;

    if (isArchiveName(e.name)) throw refuse(file, e.name, 'nested archive inside the ZIP');
    if (e.size > lim.maxEntryBytes) throw refuse(file, e.name, `declares ${e.size} bytes, over the per-entry limit of ${lim.maxEntryBytes}`);
    declaredTotal += e.size;
    if (declaredTotal > lim.maxTotalBytes) throw refuse(file, e.name, `declared sizes add up past the ${lim.maxTotalBytes}-byte total limit`);
    if (e.size > RATIO_FLOOR && e.size > e.compressedSize * lim.maxRatio) {
      throw refuse(file, e.name, `declared compression ratio ${ratio(e)} is over the limit of ${lim.maxRatio} (zip bomb?)`);
    }
    if (e.method === METHOD_STORED && e.compressedSize !== e.size) throw refuse(file, e.name, 'stored entry whose compressed and uncompressed sizes differ');

    const at = e.localOffset;
    if (at + 30 > data.length || u32(data, at) !== SIG_LOCAL) throw refuse(file, e.name, 'local header missing where the central directory points');
    const localFlags = u16(data, at + 6);
    const localMethod = u16(data, at + 8);
    const nameLen = u16(data, at + 26);
    const extraLen = u16(data, at + 28);
    if (localFlags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || localMethod === METHOD_AES) throw refuse(file, e.name, 'encrypted entry');
    if (localMethod !== e.method) throw refuse(file, e.name, 'local header and central directory disagree on the compression method');
    // A tool that reads local headers would see a different file than we do.
    const localName = decodeName(data.subarray(at + 30, Math.min(data.length, at + 30 + nameLen)), localFlags, file);
    if (localName !== e.name) throw refuse(file, e.name, `local header names it ${JSON.stringify(localName)}`);
    e.dataStart = at + 30 + nameLen + extraLen;
    if (e.dataStart + e.compressedSize > data.length) throw refuse(file, e.name, 'compressed data runs past the end of the archive (truncated?)');
  }

  // Entries sharing compressed bytes are how non-recursive zip bombs reach
  // huge ratios without any one entry looking unusual.
  const files = entries.filter((e) => !e.isDirectory).sort((a, b) => a.localOffset - b.localOffset);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1];
    if (files[i].localOffset < prev.dataStart + prev.compressedSize) {
      throw refuse(file, files[i].name, `overlaps the data of entry ${JSON.stringify(prev.name)}`);
    }
  }
}

function ratio(e: Entry): string {
  return e.compressedSize === 0 ? 'infinite' : (e.size / e.compressedSize).toFixed(0);
}

// ---------------------------------------------------------------------------
// Inflation

type Extracted = { bytes: Uint8Array } | { skip: string };

function extract(data: Uint8Array, e: Entry, file: string, lim: ZipLimits): Extracted {
  const raw = data.subarray(e.dataStart, e.dataStart + e.compressedSize);
  let bytes: Uint8Array;
  if (e.method === METHOD_STORED) {
    // Copied so the caller can drop the archive buffer.
    bytes = raw.slice();
  } else if (e.method === METHOD_DEFLATE) {
    // The declared size is the tightest bound and is already within the
    // limits; the other two guard against a size that was never checked.
    const cap = Math.min(lim.maxEntryBytes, e.size, Math.max(RATIO_FLOOR, e.compressedSize * lim.maxRatio));
    try {
      const out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, cap) });
      // A plain view, so callers get the same type for stored and deflated entries.
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw refuse(file, e.name, `inflates past ${cap} bytes although it declares ${e.size} (lying header or zip bomb)`);
      }
      return { skip: `corrupt compressed data (${(err as Error).message})` };
    }
    if (bytes.length > cap) throw refuse(file, e.name, `inflates past ${cap} bytes although it declares ${e.size} (lying header or zip bomb)`);
  } else {
    return { skip: `unsupported compression method ${e.method}` };
  }
  if (bytes.length !== e.size) return { skip: `inflated to ${bytes.length} bytes but declares ${e.size} (corrupt)` };
  if (crc32(bytes) !== e.crc) return { skip: 'CRC mismatch (corrupt entry)' };
  return { bytes };
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
