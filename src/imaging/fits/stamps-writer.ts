import { open } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
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
export async function writeStampsFile(
  path: string,
  count: number,
  stampAt: (i: number) => StampToWrite | Promise<StampToWrite>,
  positions?: { ra: number; dec: number }[],
  opts: { compress?: 'GZIP_2'; primaryCards?: [string, FitsValue][] } = {},
): Promise<void> {
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
    primary.push(...(opts.primaryCards ?? []));
    await fh.write(header(primary));
    for (let i = 0; i < count; i++) {
      const s = await stampAt(i);
      if (opts.compress === 'GZIP_2') {
        await fh.write(gzip2Hdu(s, i + 1));
        continue;
      }
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

/**
 * One IMAGE as a tile-compressed BINTABLE the way the Butler stores Rubin
 * images: GZIP_2 (bytes shuffled most-significant first, then gzip), one
 * image row per tile, lossless float32.
 */
function gzip2Hdu(s: StampToWrite, extver: number): Buffer {
  const { width, height, data } = s.plane;
  const tiles: Buffer[] = [];
  const raw = Buffer.alloc(4 * width);
  const shuffled = Buffer.alloc(4 * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.writeFloatBE(data[y * width + x], 4 * x);
    for (let x = 0; x < width; x++) for (let k = 0; k < 4; k++) shuffled[k * width + x] = raw[4 * x + k];
    tiles.push(gzipSync(shuffled));
  }
  const maxLen = Math.max(...tiles.map((t) => t.length));
  const heapSize = tiles.reduce((n, t) => n + t.length, 0);
  const table = Buffer.alloc(8 * height);
  let off = 0;
  tiles.forEach((t, row) => {
    table.writeInt32BE(t.length, 8 * row);
    table.writeInt32BE(off, 8 * row + 4);
    off += t.length;
  });
  const head = header([
    ['XTENSION', 'BINTABLE'],
    ['BITPIX', 8],
    ['NAXIS', 2],
    ['NAXIS1', 8],
    ['NAXIS2', height],
    ['PCOUNT', heapSize],
    ['GCOUNT', 1],
    ['TFIELDS', 1],
    ['TTYPE1', 'COMPRESSED_DATA'],
    ['TFORM1', `1PB(${maxLen})`],
    ['ZIMAGE', true],
    ['ZTENSION', 'IMAGE'],
    ['ZBITPIX', -32],
    ['ZNAXIS', 2],
    ['ZNAXIS1', width],
    ['ZNAXIS2', height],
    ['ZPCOUNT', 0],
    ['ZGCOUNT', 1],
    ['ZTILE1', width],
    ['ZTILE2', 1],
    ['ZCMPTYPE', 'GZIP_2'],
    ['ZQUANTIZ', 'NONE'],
    ['EXTNAME', 'IMAGE'],
    ['EXTVER', extver],
    ...(s.cards ?? []),
  ]);
  const body = Buffer.concat([table, ...tiles]);
  const padded = Buffer.alloc(Math.ceil(body.length / BLOCK) * BLOCK);
  body.copy(padded);
  return Buffer.concat([head, padded]);
}
