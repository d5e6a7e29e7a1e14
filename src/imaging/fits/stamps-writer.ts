import { open } from 'node:fs/promises';
import { BLOCK, formatCard, type FitsValue } from './header.js';
import type { ImagePlane } from '../types.js';

export interface StampToWrite {
  plane: ImagePlane;
  ra?: number;
  dec?: number;
  /** Extra cards for the IMAGE HDU, e.g. a sky WCS. */
  cards?: [string, FitsValue][];
}

function header(cards: [string, FitsValue][]): Buffer {
  const text = cards.map(([k, v]) => formatCard(k, v)).join('') + 'END'.padEnd(80);
  const buf = Buffer.alloc(Math.ceil(text.length / BLOCK) * BLOCK, 0x20);
  buf.write(text, 'latin1');
  return buf;
}

/**
 * Writes an lsst.meas.algorithms.Stamps-shaped file (uncompressed float32
 * IMAGE HDUs, positions as repeated RA_DEG/DEC_DEG cards), one stamp at a
 * time so large synthetic sets for demos and benchmarks never sit in memory.
 */
export async function writeStampsFile(path: string, count: number, stampAt: (i: number) => StampToWrite | Promise<StampToWrite>, positions?: { ra: number; dec: number }[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const primary: [string, FitsValue][] = [
      ['SIMPLE', true],
      ['BITPIX', 8],
      ['NAXIS', 0],
      ['EXTEND', true],
      ['HAS_MASK', false],
      ['HAS_VARIANCE', false],
      ['HAS_ARCHIVE', false],
      ['N_STAMPS', count],
      ['STAMPCLS', 'lsst.meas.algorithms.stamps.Stamp'],
      ['VERSION', 1],
    ];
    for (const p of positions ?? []) primary.push(['RA_DEG', p.ra]);
    for (const p of positions ?? []) primary.push(['DEC_DEG', p.dec]);
    await fh.write(header(primary));
    for (let i = 0; i < count; i++) {
      const s = await stampAt(i);
      const { width, height, data } = s.plane;
      await fh.write(
        header([
          ['XTENSION', 'IMAGE'],
          ['BITPIX', -32],
          ['NAXIS', 2],
          ['NAXIS1', width],
          ['NAXIS2', height],
          ['PCOUNT', 0],
          ['GCOUNT', 1],
          ['EXTNAME', 'IMAGE'],
          ['EXTVER', i + 1],
          ...(s.cards ?? []),
        ]),
      );
      const n = width * height;
      const bytes = Buffer.alloc(Math.ceil((4 * n) / BLOCK) * BLOCK);
      for (let k = 0; k < n; k++) bytes.writeFloatBE(data[k], 4 * k);
      await fh.write(bytes);
    }
  } finally {
    await fh.close();
  }
}
