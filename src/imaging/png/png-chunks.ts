import { ImagingError } from '../types.js';
import { crc32 as crc32Of } from './crc32.js';
import { concatBytes } from '../bytes.js';

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** CRC-32 over several parts, as PNG chunks need it (type + data). */
export function crc32(parts: Uint8Array[]): number {
  return crc32Of(parts.length === 1 ? parts[0] : concatBytes(parts));
}

export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  writeChunk(out, 0, type, data);
  return out;
}

/** Writes a chunk (length, type, data, CRC) into `out` at `at`; returns where the next one starts. */
export function writeChunk(out: Uint8Array, at: number, type: string, data: Uint8Array): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(at, data.length);
  for (let i = 0; i < 4; i++) out[at + 4 + i] = type.charCodeAt(i);
  out.set(data, at + 8);
  // Type and data lie side by side in `out`: the CRC covers them without a copy.
  dv.setUint32(at + 8 + data.length, crc32Of(out.subarray(at + 4, at + 8 + data.length)));
  return at + 12 + data.length;
}

/** iTXt with keyword XML:com.adobe.xmp, uncompressed, empty language and translated keyword. */
export function xmpChunk(packet: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode('XML:com.adobe.xmp');
  const data = new Uint8Array(head.length + 5 + packet.length);
  data.set(head);
  // NUL separator, compression flag 0, method 0, empty language + NUL, empty translated keyword + NUL.
  data.set(packet, head.length + 5);
  return chunk('iTXt', data);
}

/** tEXt is Latin-1; anything outside it is replaced so the chunk stays valid. */
export function textChunk(keyword: string, text: string): Uint8Array {
  const enc = (s: string) => Uint8Array.from([...s].map((ch) => (ch.charCodeAt(0) < 256 ? ch.charCodeAt(0) : 0x3f)));
  const k = enc(keyword.slice(0, 79));
  const v = enc(text);
  const data = new Uint8Array(k.length + 1 + v.length);
  data.set(k);
  data.set(v, k.length + 1);
  return chunk('tEXt', data);
}

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

/** Splits a PNG into chunks, checking the signature and every CRC. */
export function readChunks(png: Uint8Array): PngChunk[] {
  if (png.length < 8 || !SIGNATURE.every((b, i) => png[i] === b)) throw new ImagingError('not a PNG (bad signature)');
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: PngChunk[] = [];
  let at = 8;
  while (at + 12 <= png.length) {
    const len = dv.getUint32(at);
    if (at + 12 + len > png.length) throw new ImagingError(`PNG chunk at byte ${at} overruns the file`);
    const typeBytes = png.subarray(at + 4, at + 8);
    const type = String.fromCharCode(...typeBytes);
    const data = png.subarray(at + 8, at + 8 + len);
    if (dv.getUint32(at + 8 + len) !== crc32([typeBytes, data])) throw new ImagingError(`PNG chunk ${type} has a bad CRC`);
    out.push({ type, data });
    at += 12 + len;
    if (type === 'IEND') break;
  }
  return out;
}

/** Inserts chunks right after IHDR (pyavm and WWT look for XMP early). */
export function insertAfterIhdr(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  const ihdrEnd = 8 + 12 + 13;
  const extra = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, ihdrEnd));
  let at = ihdrEnd;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(png.subarray(ihdrEnd), at);
  return out;
}

/** Reads our XMP packet back from a PNG (null when absent). */
export function readXmp(png: Uint8Array): string | null {
  for (const c of readChunks(png)) {
    if (c.type !== 'iTXt') continue;
    const key = 'XML:com.adobe.xmp\0';
    if (String.fromCharCode(...c.data.subarray(0, key.length)) !== key) continue;
    return new TextDecoder().decode(c.data.subarray(key.length + 4));
  }
  return null;
}

export function readTextChunks(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of readChunks(png)) {
    if (c.type !== 'tEXt') continue;
    const nul = c.data.indexOf(0);
    out[String.fromCharCode(...c.data.subarray(0, nul))] = String.fromCharCode(...c.data.subarray(nul + 1));
  }
  return out;
}
