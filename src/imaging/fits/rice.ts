import { ImagingError } from '../types.js';

/**
 * RICE_1 decompression of one tile (FITS tiled-image convention; the
 * algorithm of Rice, Yeh & Miller as used by cfitsio). The first pixel is
 * stored raw; then blocks of `blockSize` pixels, each with a code-length
 * selector: all-zero differences, raw values, or Rice-coded differences.
 * Every byte read is bounds-checked, so a damaged tile throws instead of
 * reading past its end or spinning.
 */

const PARAMS = {
  1: { fsBits: 3, fsMax: 6, bBits: 8 },
  2: { fsBits: 4, fsMax: 14, bBits: 16 },
  4: { fsBits: 5, fsMax: 25, bBits: 32 },
} as const;

/** Bits needed to hold b, for b < 256. */
const NONZERO_COUNT = (() => {
  const t = new Uint8Array(256);
  for (let b = 1; b < 256; b++) t[b] = 32 - Math.clz32(b);
  return t;
})();

function corrupt(msg: string): never {
  throw new ImagingError(`RICE_1 tile is corrupt: ${msg}`);
}

/**
 * Decodes `out.length` pixels. bytePix 1 gives unsigned bytes (0..255), 2
 * signed 16-bit values, 4 signed 32-bit values, as cfitsio returns them.
 */
export function riceDecompress(input: Uint8Array, out: Int32Array, bytePix: 1 | 2 | 4, blockSize: number): void {
  const p = PARAMS[bytePix];
  if (!p) corrupt(`BYTEPIX ${bytePix} is not 1, 2 or 4`);
  if (!Number.isInteger(blockSize) || blockSize <= 0) corrupt(`block size ${blockSize}`);
  const nx = out.length;
  const len = input.length;
  if (nx === 0) return;
  if (len < bytePix + 1) corrupt(`only ${len} bytes for ${nx} pixels`);
  const mask = bytePix === 4 ? -1 : bytePix === 2 ? 0xffff : 0xff;
  const { fsBits, fsMax, bBits } = p;

  let lastpix = 0;
  for (let k = 0; k < bytePix; k++) lastpix = (lastpix << 8) | input[k];
  lastpix &= mask;
  let c = bytePix;
  let b = input[c++];
  let nbits = 8;

  const emit = (i: number, v: number) => {
    lastpix = v & mask;
    out[i] = bytePix === 2 ? (lastpix << 16) >> 16 : bytePix === 4 ? lastpix | 0 : lastpix;
  };

  for (let i = 0; i < nx; ) {
    nbits -= fsBits;
    while (nbits < 0) {
      if (c >= len) corrupt('ran out of bytes reading a block selector');
      b = ((b << 8) | input[c++]) >>> 0;
      nbits += 8;
    }
    const fs = (b >>> nbits) - 1;
    b &= (1 << nbits) - 1;
    const imax = Math.min(i + blockSize, nx);
    if (fs < 0) {
      // Low entropy: the whole block repeats the last pixel.
      for (; i < imax; i++) emit(i, lastpix);
    } else if (fs === fsMax) {
      // High entropy: differences stored raw in bBits bits.
      for (; i < imax; i++) {
        let k = bBits - nbits;
        let diff = k >= 32 ? 0 : (b << k) >>> 0;
        for (k -= 8; k >= 0; k -= 8) {
          if (c >= len) corrupt('ran out of bytes in a raw block');
          b = input[c++];
          diff = (diff | (b << k)) >>> 0;
        }
        if (nbits > 0) {
          if (c >= len) corrupt('ran out of bytes in a raw block');
          b = input[c++];
          diff = (diff | (b >>> -k)) >>> 0;
          b &= (1 << nbits) - 1;
        } else {
          b = 0;
        }
        diff = (diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1);
        emit(i, diff + lastpix);
      }
    } else if (fs > fsMax) {
      corrupt(`block selector ${fs + 1} is out of range`);
    } else {
      for (; i < imax; i++) {
        while (b === 0) {
          if (c >= len) corrupt('ran out of bytes in a Rice-coded block');
          nbits += 8;
          b = input[c++];
        }
        const nzero = nbits - NONZERO_COUNT[b];
        nbits -= nzero + 1;
        b ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) {
          if (c >= len) corrupt('ran out of bytes in a Rice-coded block');
          b = ((b << 8) | input[c++]) >>> 0;
          nbits += 8;
        }
        let diff = ((nzero << fs) | (b >>> nbits)) >>> 0;
        b &= (1 << nbits) - 1;
        diff = (diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1);
        emit(i, diff + lastpix);
      }
    }
  }
}
