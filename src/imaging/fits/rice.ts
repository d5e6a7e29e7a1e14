import { ImagingError } from '../types.js';

/**
 * RICE_1 decompression of one tile of a tile-compressed FITS image (FITS
 * standard 4.0, section 10.4.1; the Rice coding of White & Greenfield as
 * implemented by cfitsio, whose output astropy returns).
 *
 * Stream layout, all bit fields most-significant bit first:
 * - the first pixel value, raw, in BYTEPIX bytes (big-endian);
 * - then, for each block of `blockSize` pixels (the last block may be short),
 *   a selector of 3 (BYTEPIX 1), 4 (BYTEPIX 2) or 5 (BYTEPIX 4) bits holding
 *   fs + 1, followed by one coded difference per pixel:
 *   - selector 0 (fs = -1): low entropy, no bits follow, every difference is 0;
 *   - fs = 6 / 14 / 25 (the largest code): high entropy, each difference is
 *     stored raw in 8 / 16 / 32 bits;
 *   - otherwise each difference is a Rice code: q zero bits, a one bit, then
 *     the fs low bits r; the mapped difference is (q << fs) | r.
 * - Mapped differences are zig-zag: even m means +m/2, odd m means -(m+1)/2.
 *   Each pixel is the previous pixel plus its difference, modulo 2^(8*BYTEPIX).
 *
 * Output semantics follow cfitsio: BYTEPIX 1 gives unsigned bytes 0..255
 * (BITPIX 8 is unsigned), BYTEPIX 2 signed 16-bit values, BYTEPIX 4 signed
 * 32-bit values. Any BZERO/BSCALE or quantisation is the caller's business.
 *
 * Safety: every byte read is checked against the end of `input` (a stream that
 * ends early throws), a selector above the largest code throws, nothing is
 * allocated, and the work is bounded by input.length + out.length (each block
 * emits at least one pixel; each loop that does not emit a pixel consumes a
 * byte). Bytes after the last needed bit are ignored, as cfitsio does.
 */

/** Width of the block selector, and the selector value meaning "raw", per BYTEPIX. */
const FS_BITS = { 1: 3, 2: 4, 4: 5 } as const;
const FS_MAX = { 1: 6, 2: 14, 4: 25 } as const;

function corrupt(msg: string): never {
  throw new ImagingError(`RICE_1 tile is corrupt: ${msg}`);
}

/**
 * Decodes exactly `out.length` pixels of one RICE_1 tile from `input` into
 * `out` (a view of the caller's buffer is fine; nothing outside it is touched).
 * Throws ImagingError("RICE_1 tile is corrupt: ...") for a stream that runs out
 * of bytes or holds an impossible selector, and for a BYTEPIX or BLOCKSIZE
 * that RICE_1 cannot have.
 */
export function riceDecompress(input: Uint8Array, out: Int32Array, bytePix: 1 | 2 | 4, blockSize: number): void {
  if (bytePix !== 1 && bytePix !== 2 && bytePix !== 4) corrupt(`BYTEPIX ${String(bytePix)} is not 1, 2 or 4`);
  if (!Number.isSafeInteger(blockSize) || blockSize <= 0) corrupt(`BLOCKSIZE ${blockSize} is not a positive integer`);
  const n = out.length;
  if (n === 0) return;
  const len = input.length;
  if (len < bytePix) corrupt(`${len} bytes cannot hold the first pixel`);

  const fsBits: number = FS_BITS[bytePix];
  const fsMax: number = FS_MAX[bytePix];
  const rawBits = bytePix * 8;
  // Output of a running value: its low rawBits bits, sign-extended for
  // BYTEPIX 2 and 4, unsigned for BYTEPIX 1: ((last << shift) >> shift) & outMask.
  const shift = 32 - rawBits;
  const outMask = bytePix === 1 ? 0xff : -1;

  // The running pixel value; arithmetic wraps at 32 bits and only the low
  // rawBits bits are ever used, which is the modular arithmetic of cfitsio.
  let last = 0;
  for (let k = 0; k < bytePix; k++) last = (last << 8) | input[k];

  // Bit reader: `acc` holds the next `nb` unread bits in its low bits. Refills
  // add whole bytes while nb <= 23, so nb <= 31 and acc stays a non-negative
  // int32. A refill stops quietly at the end of the input; a field that then
  // has fewer bits than it needs is the error.
  let pos = bytePix;
  let acc = 0;
  let nb = 0;

  let i = 0;
  while (i < n) {
    if (nb < fsBits) {
      while (nb <= 23 && pos < len) {
        acc = (acc << 8) | input[pos++];
        nb += 8;
      }
      if (nb < fsBits) corrupt(`ran out of bytes at pixel ${i} of ${n} (block selector)`);
    }
    nb -= fsBits;
    const fs = (acc >>> nb) - 1;
    acc &= (1 << nb) - 1;
    const end = i + blockSize < n ? i + blockSize : n;

    if (fs < 0) {
      // Low entropy: the block repeats the running value.
      out.fill(((last << shift) >> shift) & outMask, i, end);
      i = end;
    } else if (fs === fsMax) {
      // High entropy: mapped differences stored raw, read in <= 16-bit pieces.
      for (; i < end; i++) {
        let m = 0;
        for (let need = rawBits; need > 0; ) {
          const take = need > 16 ? 16 : need;
          if (nb < take) {
            while (nb <= 23 && pos < len) {
              acc = (acc << 8) | input[pos++];
              nb += 8;
            }
            if (nb < take) corrupt(`ran out of bytes at pixel ${i} of ${n} (raw block)`);
          }
          nb -= take;
          m = ((m << take) | (acc >>> nb)) >>> 0;
          acc &= (1 << nb) - 1;
          need -= take;
        }
        last = (last + ((m >>> 1) ^ -(m & 1))) | 0;
        out[i] = ((last << shift) >> shift) & outMask;
      }
    } else if (fs > fsMax) {
      corrupt(`block selector ${fs + 1} at pixel ${i} is above the largest code ${fsMax + 1}`);
    } else {
      // Rice codes: count zero bits up to the next one bit, then fs low bits.
      for (; i < end; i++) {
        let q = 0;
        while (acc === 0) {
          q += nb;
          nb = 0;
          if (pos >= len) corrupt(`ran out of bytes at pixel ${i} of ${n} (Rice code)`);
          while (nb <= 23 && pos < len) {
            acc = (acc << 8) | input[pos++];
            nb += 8;
          }
        }
        const z = Math.clz32(acc) - (32 - nb); // zero bits above the leading one
        q += z;
        nb -= z + 1;
        acc &= (1 << nb) - 1;
        if (nb < fs) {
          while (nb <= 23 && pos < len) {
            acc = (acc << 8) | input[pos++];
            nb += 8;
          }
          if (nb < fs) corrupt(`ran out of bytes at pixel ${i} of ${n} (Rice code)`);
        }
        nb -= fs;
        // q can only exceed 2^(32-fs) in a damaged stream; it then wraps like
        // cfitsio's unsigned arithmetic rather than failing.
        const m = ((q << fs) | (acc >>> nb)) >>> 0;
        acc &= (1 << nb) - 1;
        last = (last + ((m >>> 1) ^ -(m & 1))) | 0;
        out[i] = ((last << shift) >> shift) & outMask;
      }
    }
  }
}
