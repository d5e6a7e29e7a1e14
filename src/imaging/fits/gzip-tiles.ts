import { gunzipSync } from 'node:zlib';

/*
 * The GZIP_1 / GZIP_2 parts of reading tile-compressed images
 * (tiled-image.ts): inflating the tiles, and undoing GZIP_2's byte shuffle.
 */

/**
 * Every tile's gzip member inflated by one zlib call, when the members lie
 * back to back in the heap in table order (as cfitsio and astropy write
 * them): Rubin's GZIP_2 images have one tile per image row, and inflating
 * them one by one cost a zlib stream set-up per row, more than the inflating
 * itself (bench:scale's profile of a converter). Each member's gzip trailer
 * must state its tile's exact size, and zlib checks every trailer (size and
 * CRC) against what it inflated, so no tile takes bytes of its neighbour.
 * Anything else (a gap, another order, a tile stored uncompressed or in the
 * fallback column, a size or data error) gives undefined, and the tiles are
 * then inflated one by one, which names the tile at fault.
 */
export function gunzipAllTiles(dv: DataView, data: Uint8Array, col: { kind: string; offset: number }, heapStart: number, nrows: number, rowBytes: number, expected: (row: number) => number): Uint8Array[] | undefined {
  if (col.kind !== 'P' || nrows < 2) return undefined;
  let start = -1;
  let end = -1;
  let total = 0;
  for (let row = 0; row < nrows; row++) {
    const at = row * rowBytes + col.offset;
    const count = dv.getInt32(at);
    const from = heapStart + dv.getInt32(at + 4);
    // 18 bytes: the smallest gzip member (10-byte header, empty deflate block, 8-byte trailer).
    if (count < 18 || from < heapStart || from + count > data.length || (row > 0 && from !== end)) return undefined;
    const size = expected(row);
    // ISIZE, the member's last four bytes: its uncompressed size (mod 2^32), little-endian.
    if (dv.getUint32(from + count - 4, true) !== size % 2 ** 32) return undefined;
    if (row === 0) start = from;
    end = from + count;
    total += size;
  }
  let out: Buffer;
  try {
    out = gunzipSync(data.subarray(start, end), { maxOutputLength: Math.max(total, 1) });
  } catch {
    return undefined;
  }
  if (out.length !== total) return undefined;
  const tiles: Uint8Array[] = new Array<Uint8Array>(nrows);
  for (let row = 0, pos = 0; row < nrows; row++) {
    const size = expected(row);
    tiles[row] = out.subarray(pos, pos + size);
    pos += size;
  }
  return tiles;
}

export function gunzipTile(comp: Uint8Array, expected: number, fail: (m: string) => never): Uint8Array {
  let out: Buffer;
  try {
    // maxOutputLength stops a hostile tile from inflating without bound.
    out = gunzipSync(comp, { maxOutputLength: Math.max(expected, 1) });
  } catch (e) {
    return fail(`gzip data is corrupt or larger than the tile (${(e as Error).message})`);
  }
  if (out.length !== expected) fail(`gzip data holds ${out.length} bytes, the tile needs ${expected}`);
  return out;
}

/**
 * A GZIP_2 float32 tile, whose bytes are grouped by significance (every
 * value's most significant byte first, then every second byte, ...), written
 * straight into the image's bits: one pass where unshuffling, byte-swapping
 * from big-endian and copying the tile into place took three (measured in
 * bench:scale's converter profile: ~2.8 ms of a 256x256 3-band stamp's
 * ~14 ms). The bits are copied as they are, NaN payloads included.
 */
export function unshuffleFloat32Into(raw: Uint8Array, n: number, tw: number, th: number, bits: Uint32Array, width: number, x0: number, y0: number): void {
  const b1 = n;
  const b2 = 2 * n;
  const b3 = 3 * n;
  for (let y = 0, i = 0; y < th; y++) {
    const dst = (y0 + y) * width + x0;
    for (let x = 0; x < tw; x++, i++) bits[dst + x] = (raw[i] << 24) | (raw[b1 + i] << 16) | (raw[b2 + i] << 8) | raw[b3 + i];
  }
}

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Reused by every unshuffle (it is synchronous): a copy per tile was garbage per image row.
let unshuffleScratch = new Uint8Array(0);

/** GZIP_2 stores all most-significant bytes first, then the next, ...; undo that in place. */
export function unshuffle(buf: Uint8Array, bytes: number): void {
  if (bytes === 1) return;
  const n = buf.length / bytes;
  if (unshuffleScratch.length < buf.length) unshuffleScratch = new Uint8Array(buf.length);
  const copy = unshuffleScratch;
  copy.set(buf);
  for (let k = 0; k < bytes; k++) {
    const plane = k * n;
    for (let i = 0; i < n; i++) buf[i * bytes + k] = copy[plane + i];
  }
}
