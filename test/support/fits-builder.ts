import { formatCard, type FitsValue } from '../../src/imaging/fits/header.js';

/** Builds FITS bytes for tests that need files astropy did not make (hostile, truncated). */
export function headerBlock(cards: [string, FitsValue, string?][]): Uint8Array {
  const text = cards.map(([k, v, c]) => formatCard(k, v, c)).join('') + 'END'.padEnd(80);
  const len = Math.ceil(text.length / 2880) * 2880;
  const out = new Uint8Array(len).fill(0x20);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export function padData(bytes: Uint8Array): Uint8Array {
  const len = Math.ceil(bytes.length / 2880) * 2880;
  const out = new Uint8Array(len);
  out.set(bytes);
  return out;
}

import { concatBytes } from '../../src/imaging/bytes.js';

export const concat = concatBytes;

/** A float32 primary image. */
export function float32Image(width: number, height: number, values: (i: number) => number, extra: [string, FitsValue][] = []): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < width * height; i++) dv.setFloat32(4 * i, values(i));
  const head = headerBlock([
    ['SIMPLE', true],
    ['BITPIX', -32],
    ['NAXIS', 2],
    ['NAXIS1', width],
    ['NAXIS2', height],
    ...extra,
  ]);
  return concat([head, padData(data)]);
}
