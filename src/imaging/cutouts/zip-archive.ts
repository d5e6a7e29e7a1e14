import type { FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { crc32 } from '../png/crc32.js';

/**
 * The one ZIP reader of the bridge. Archives come from outside (a PI's zip
 * of renderings, `butler retrieve-artifacts --zip`, a Butler datastore zip),
 * so they are read with our own central-directory parser over random access:
 * only the directory and the members asked for are read, every record is
 * checked before a byte is inflated, and inflation has a hard output cap, so
 * a lying header or a zip bomb costs at most the cap.
 *
 * Two kinds of failure: `ZipRefused` means the archive as a whole is not to
 * be trusted (traversal, symlink, encryption, bomb, inconsistent records);
 * `ZipEntryDamaged` means one member cannot be read (CRC, truncated stream,
 * unknown method) and the others may still be fine. Callers turn them into
 * their own error types.
 */

export interface RandomAccess {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

export interface ZipEntry {
  /** Path inside the archive, as written by the producer. */
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  isDirectory: boolean;
}

export class ZipRefused extends Error {
  constructor(
    readonly why: string,
    readonly entry?: string,
  ) {
    super(entry === undefined ? why : `${JSON.stringify(entry)}: ${why}`);
  }
}

export class ZipEntryDamaged extends Error {
  constructor(
    readonly why: string,
    readonly entry: string,
  ) {
    super(`${JSON.stringify(entry)}: ${why}`);
  }
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;

export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;
const METHOD_AES = 99;

/** Larger directories than this are not cutout archives; refusing bounds memory. */
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;

export function bytesAccess(bytes: Uint8Array): RandomAccess {
  return {
    size: bytes.length,
    read: async (position, length) => {
      if (position < 0 || position + length > bytes.length) throw new ZipRefused('a record points past the end of the archive (truncated?)');
      return bytes.subarray(position, position + length);
    },
  };
}

export function fileAccess(fh: FileHandle, size: number): RandomAccess {
  return {
    size,
    read: async (position, length) => {
      if (position < 0 || position + length > size) throw new ZipRefused('a record points past the end of the archive (truncated?)');
      const buf = Buffer.alloc(length);
      let have = 0;
      while (have < length) {
        const { bytesRead } = await fh.read(buf, have, length - have, position + have);
        if (bytesRead === 0) throw new ZipRefused('the file shrank while it was being read');
        have += bytesRead;
      }
      return buf;
    },
  };
}

function u16(d: Uint8Array, at: number): number {
  return d[at] | (d[at + 1] << 8);
}

function u32(d: Uint8Array, at: number): number {
  return (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
}

/** 64-bit sizes beyond 2^53 cannot be real. */
function u64(d: Uint8Array, at: number, what: string): number {
  const lo = u32(d, at);
  const hi = u32(d, at + 4);
  if (hi >= 0x200000) throw new ZipRefused(`implausible ZIP64 ${what}`);
  return hi * 0x100000000 + lo;
}

async function findEocd(src: RandomAccess): Promise<{ tail: Uint8Array; tailAt: number; at: number }> {
  if (src.size < 22) throw new ZipRefused('not a ZIP archive (too short to hold an end-of-central-directory record)');
  // The record is 22 bytes plus a comment of at most 65535; scanning further
  // back would only let garbage masquerade as a record.
  const tailLen = Math.min(src.size, 22 + 0xffff);
  const tailAt = src.size - tailLen;
  const tail = await src.read(tailAt, tailLen);
  for (let at = tail.length - 22; at >= 0; at--) {
    if (u32(tail, at) === SIG_EOCD && at + 22 + u16(tail, at + 20) <= tail.length) return { tail, tailAt, at };
  }
  throw new ZipRefused('not a ZIP archive (no end-of-central-directory record; truncated?)');
}

/**
 * The archive's entries, with every check that needs only the directory:
 * names (traversal, absolute, control characters), symlinks, encryption,
 * duplicates, ZIP64 consistency and the entry count.
 */
export async function readZipDirectory(src: RandomAccess, maxEntries: number): Promise<ZipEntry[]> {
  const { tail, tailAt, at: eocd } = await findEocd(src);
  let disk = u16(tail, eocd + 4);
  let cdDisk = u16(tail, eocd + 6);
  let countHere = u16(tail, eocd + 8);
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  let cdLimit = tailAt + eocd;

  if (count === 0xffff || countHere === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = tailAt + eocd - 20;
    if (locAt < 0) throw new ZipRefused('ZIP64 archive without a ZIP64 locator');
    const loc = await src.read(locAt, 20);
    if (u32(loc, 0) !== SIG_ZIP64_LOCATOR) throw new ZipRefused('ZIP64 archive without a ZIP64 locator');
    const recAt = u64(loc, 8, 'record offset');
    if (recAt + 56 > locAt) throw new ZipRefused('ZIP64 end-of-central-directory record missing or misplaced');
    const rec = await src.read(recAt, 56);
    if (u32(rec, 0) !== SIG_ZIP64_EOCD) throw new ZipRefused('ZIP64 end-of-central-directory record missing or misplaced');
    disk = u32(rec, 16);
    cdDisk = u32(rec, 20);
    countHere = u64(rec, 24, 'entry count');
    count = u64(rec, 32, 'entry count');
    cdSize = u64(rec, 40, 'directory size');
    cdOffset = u64(rec, 48, 'directory offset');
    cdLimit = recAt;
  }

  if (disk !== 0 || cdDisk !== 0) throw new ZipRefused('multi-volume (spanned) archives are not supported');
  if (countHere !== count) throw new ZipRefused('end record gives two different entry counts');
  if (count > maxEntries) throw new ZipRefused(`${count} entries, over the limit of ${maxEntries}`);
  if (cdSize > MAX_CENTRAL_DIRECTORY) throw new ZipRefused(`central directory of ${cdSize} bytes, over the ${MAX_CENTRAL_DIRECTORY}-byte limit`);
  if (cdOffset + cdSize > cdLimit) throw new ZipRefused('central directory extends past its end record (truncated or corrupt)');

  const cd = await src.read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.length || u32(cd, at) !== SIG_CENTRAL) throw new ZipRefused(`central directory record ${i} is corrupt`);
    const flags = u16(cd, at + 8);
    const method = u16(cd, at + 10);
    const crc = u32(cd, at + 16);
    let compressedSize = u32(cd, at + 20);
    let size = u32(cd, at + 24);
    const nameLen = u16(cd, at + 28);
    const extraLen = u16(cd, at + 30);
    const commentLen = u16(cd, at + 32);
    const externalAttr = u32(cd, at + 38);
    let localOffset = u32(cd, at + 42);
    const next = at + 46 + nameLen + extraLen + commentLen;
    if (next > cd.length) throw new ZipRefused(`central directory record ${i} overruns the directory`);

    const name = decodeName(cd.subarray(at + 46, at + 46 + nameLen), flags);
    checkName(name);
    if (((externalAttr >>> 16) & 0o170000) === 0o120000) throw new ZipRefused('symbolic link', name);
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || method === METHOD_AES) throw new ZipRefused('encrypted entry', name);
    if (seen.has(name)) throw new ZipRefused('duplicate entry name (two records could resolve differently)', name);
    seen.add(name);

    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      const z = zip64Extra(cd.subarray(at + 46 + nameLen, at + 46 + nameLen + extraLen), name);
      // The ZIP64 field lists only the values whose 32-bit slot overflowed, in this order.
      let k = 0;
      const take = (): number => {
        if (k >= z.length) throw new ZipRefused('ZIP64 extra field is too short', name);
        return z[k++];
      };
      if (size === 0xffffffff) size = take();
      if (compressedSize === 0xffffffff) compressedSize = take();
      if (localOffset === 0xffffffff) localOffset = take();
    }
    if (method === METHOD_STORED && compressedSize !== size) throw new ZipRefused('stored entry whose compressed and uncompressed sizes differ', name);
    entries.push({ name, flags, method, crc, compressedSize, size, localOffset, isDirectory: name.endsWith('/') });
    at = next;
  }
  return entries;
}

function zip64Extra(extra: Uint8Array, name: string): number[] {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = u16(extra, at);
    const len = u16(extra, at + 2);
    if (at + 4 + len > extra.length) break;
    if (id === 0x0001) {
      const out: number[] = [];
      for (let k = 0; k + 8 <= len; k += 8) out.push(u64(extra, at + 4 + k, 'size'));
      return out;
    }
    at += 4 + len;
  }
  throw new ZipRefused('ZIP64 sizes announced but no ZIP64 extra field', name);
}

function decodeName(raw: Uint8Array, flags: number): string {
  if (flags & FLAG_UTF8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new ZipRefused('an entry name is not valid UTF-8');
    }
  }
  // Without the UTF-8 flag the bytes are nominally CP437; ASCII is the same
  // either way, and a Latin-1 reading keeps other bytes visible in messages.
  return Buffer.from(raw).toString('latin1');
}

function checkName(name: string): void {
  if (name.length === 0) throw new ZipRefused('empty entry name', name);
  // Control characters have no business in a cutout name and would let a
  // name rewrite log lines or terminal output downstream.
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new ZipRefused('control character in entry name', name);
  if (name.includes('\\')) throw new ZipRefused('backslash in entry name (Windows path separator could escape the extraction directory)', name);
  if (name.startsWith('/')) throw new ZipRefused('absolute path', name);
  if (/^[A-Za-z]:/.test(name)) throw new ZipRefused('absolute path (drive letter)', name);
  if (name.split('/').includes('..')) throw new ZipRefused("path traversal ('..' segment)", name);
}

/**
 * Where the entry's data starts, from its local header, which must agree
 * with the directory: a tool that reads local headers would otherwise see a
 * different file than we do.
 */
export async function entryDataStart(src: RandomAccess, e: ZipEntry): Promise<number> {
  if (e.localOffset + 30 > src.size) throw new ZipRefused('local header missing where the central directory points', e.name);
  const head = await src.read(e.localOffset, 30);
  if (u32(head, 0) !== SIG_LOCAL) throw new ZipRefused('local header missing where the central directory points', e.name);
  const localFlags = u16(head, 6);
  const localMethod = u16(head, 8);
  const nameLen = u16(head, 26);
  const extraLen = u16(head, 28);
  if (localFlags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || localMethod === METHOD_AES) throw new ZipRefused('encrypted entry', e.name);
  if (localMethod !== e.method) throw new ZipRefused('local header and central directory disagree on the compression method', e.name);
  const rawName = await src.read(e.localOffset + 30, Math.min(nameLen, src.size - e.localOffset - 30));
  const localName = decodeName(rawName, localFlags);
  if (localName !== e.name) throw new ZipRefused(`local header names it ${JSON.stringify(localName)}`, e.name);
  const start = e.localOffset + 30 + nameLen + extraLen;
  if (start + e.compressedSize > src.size) throw new ZipRefused('compressed data runs past the end of the archive (truncated?)', e.name);
  return start;
}

/**
 * Entries sharing compressed bytes are how non-recursive zip bombs reach
 * huge ratios without any one entry looking unusual.
 */
export function checkNoOverlap(placed: { entry: ZipEntry; start: number }[]): void {
  const files = [...placed].sort((a, b) => a.entry.localOffset - b.entry.localOffset);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1];
    if (files[i].entry.localOffset < prev.start + prev.entry.compressedSize) {
      throw new ZipRefused(`overlaps the data of entry ${JSON.stringify(prev.entry.name)}`, files[i].entry.name);
    }
  }
}

/**
 * The member's bytes, inflated with at most `cap` bytes of output and CRC
 * checked. Output beyond the cap is a refusal (lying header or bomb); a
 * damaged stream, a size or CRC mismatch or an unknown method damages only
 * this entry.
 */
export async function readZipEntry(src: RandomAccess, e: ZipEntry, start: number, cap: number): Promise<Uint8Array> {
  const raw = await src.read(start, e.compressedSize);
  let bytes: Uint8Array;
  if (e.method === METHOD_STORED) {
    // A copy, so the member does not pin the whole archive in memory.
    bytes = raw.slice();
  } else if (e.method === METHOD_DEFLATE) {
    const bomb = () => new ZipRefused(`inflates past ${cap} bytes although it declares ${e.size} (lying header or zip bomb)`, e.name);
    try {
      const out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, cap) });
      // A plain view, so callers get the same type for stored and deflated entries.
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw bomb();
      throw new ZipEntryDamaged(`corrupt compressed data (${(err as Error).message})`, e.name);
    }
    if (bytes.length > cap) throw bomb();
  } else {
    throw new ZipEntryDamaged(`unsupported compression method ${e.method}`, e.name);
  }
  if (bytes.length !== e.size) throw new ZipEntryDamaged(`inflated to ${bytes.length} bytes but declares ${e.size} (corrupt)`, e.name);
  if (crc32(bytes) !== e.crc) throw new ZipEntryDamaged('CRC mismatch (corrupt entry)', e.name);
  return bytes;
}
