import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, type ByteSource } from '../../src/imaging/fits/byte-source.js';
import { FitsFile, type Hdu } from '../../src/imaging/fits/fits-file.js';
import { BLOCK, formatCard } from '../../src/imaging/fits/header.js';
import { FitsCutouts } from '../../src/imaging/cutouts/fits-cutouts.js';
import { convertStamp, DEFAULT_CONVERT_OPTIONS, type ChannelSource } from '../../src/imaging/convert.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';
import { pythonWith } from '../support/python.js';

/**
 * Rubin's Stamps files hold IMAGE, MASK and VARIANCE per stamp; a PNG needs
 * only the IMAGE. Reading the other two costs twice the I/O for nothing, so
 * the reader must skip their data entirely (only their headers are read, to
 * find where the next stamp starts), and read only the stamps asked for.
 * The ranges read are recorded on a real file source.
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');

/** A file source that remembers every byte range read from it. */
class RecordingSource implements ByteSource {
  readonly reads: [number, number][] = [];
  private constructor(private readonly inner: FileSource) {}
  static async open(path: string): Promise<RecordingSource> {
    return new RecordingSource(await FileSource.open(path));
  }
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = await this.inner.read(offset, length);
    this.reads.push([offset, offset + out.length]);
    return out;
  }
  async readInto(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    const out = await this.inner.readInto(offset, length, into);
    this.reads.push([offset, offset + out.length]);
    return out;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The bytes of an HDU's data, padding included: nothing in it may be read when it is skipped. */
const dataRange = (h: Hdu): [number, number] => [h.dataOffset, h.dataOffset + Math.ceil(h.dataBytes / BLOCK) * BLOCK];
const overlaps = (a: [number, number], b: [number, number]) => a[0] < b[1] && b[0] < a[1];
const bytesReadIn = (src: RecordingSource, range: [number, number]) =>
  src.reads.reduce((n, r) => n + Math.max(0, Math.min(r[1], range[1]) - Math.max(r[0], range[0])), 0);

async function openRecorded(paths: Record<string, string>): Promise<{ channels: ChannelSource[]; sources: RecordingSource[] }> {
  const channels: ChannelSource[] = [];
  const sources: RecordingSource[] = [];
  for (const [band, path] of Object.entries(paths)) {
    const src = await RecordingSource.open(path);
    sources.push(src);
    channels.push({ band, cutouts: FitsCutouts.fromFile(await FitsFile.open(src)) });
  }
  return { channels, sources };
}

async function openPlain(paths: Record<string, string>): Promise<ChannelSource[]> {
  return Promise.all(Object.entries(paths).map(async ([band, path]) => ({ band, cutouts: await FitsCutouts.open(path) })));
}

const bandsOf = (prefix: string) => Object.fromEntries(['i', 'r', 'g'].map((b) => [b, join(FIX, `${prefix}_${b}.fits`)]));

describe('reading Stamps files by HDU', () => {
  for (const prefix of ['stamps', 'stamps_gz']) {
    it(`${prefix}: MASK and VARIANCE data are never read, each IMAGE once, and the PNGs are those of a plain read`, async () => {
      const paths = bandsOf(prefix);
      const { channels, sources } = await openRecorded(paths);
      const plain = await openPlain(paths);
      try {
        const file = channels[0].cutouts.file;
        const kinds = new Set(file.hdus.map((h) => h.extname));
        expect(kinds).toEqual(new Set([undefined, 'IMAGE', 'MASK', 'VARIANCE']));
        for (let i = 0; i < channels[0].cutouts.count; i++) {
          const ours = await convertStamp(channels, i, DEFAULT_CONVERT_OPTIONS);
          const reference = await convertStamp(plain, i, DEFAULT_CONVERT_OPTIONS);
          expect(Buffer.from(ours.png).equals(Buffer.from(reference.png))).toBe(true);
        }
        for (const [k, src] of sources.entries()) {
          for (const h of channels[k].cutouts.file.hdus) {
            const range = dataRange(h);
            if (h.extname === 'MASK' || h.extname === 'VARIANCE') {
              expect(src.reads.filter((r) => overlaps(r, range)), `${src.name} HDU ${h.index} (${h.extname})`).toEqual([]);
            } else if (h.extname === 'IMAGE') {
              expect(bytesReadIn(src, [h.dataOffset, h.dataOffset + h.dataBytes])).toBe(h.dataBytes);
            }
          }
        }
      } finally {
        await Promise.all([...channels, ...plain].map((c) => c.cutouts.close()));
      }
    });
  }

  it('reads only the IMAGE of the stamp asked for', async () => {
    const { channels, sources } = await openRecorded(bandsOf('stamps'));
    try {
      await convertStamp(channels, 1, DEFAULT_CONVERT_OPTIONS);
      for (const [k, src] of sources.entries()) {
        const images = channels[k].cutouts.file.hdus.filter((h) => h.extname === 'IMAGE');
        const read = images.filter((h) => src.reads.some((r) => overlaps(r, dataRange(h)))).map((h) => h.extver);
        expect(read).toEqual([2]);
      }
    } finally {
      await Promise.all(channels.map((c) => c.cutouts.close()));
    }
  });
});

describe('reading an exposure-style cutout by HDU', () => {
  it('reads the IMAGE of an IMAGE + MASK + VARIANCE exposure and none of the MASK or VARIANCE data', async () => {
    // An exposure cutout as afw writes one: a data-less primary, then IMAGE, MASK, VARIANCE (taken from a Stamps fixture).
    const stamps = await FitsFile.openPath(join(FIX, 'stamps_r.fits'));
    const dir = mkdtempSync(join(tmpdir(), 'exposure-'));
    try {
      const bytes = readFileSync(join(FIX, 'stamps_r.fits'));
      const primary = Buffer.alloc(BLOCK, 0x20);
      primary.write(['SIMPLE', 'BITPIX', 'NAXIS', 'EXTEND'].map((k, i) => formatCard(k, [true, 8, 0, true][i])).join('') + 'END', 'latin1');
      const path = join(dir, 'calexp-cutout.fits');
      writeFileSync(path, Buffer.concat([primary, bytes.subarray(stamps.hdus[1].headerOffset, stamps.hdus[4].headerOffset)]));
      const { channels, sources } = await openRecorded({ r: path });
      try {
        const cutouts = channels[0].cutouts;
        expect(cutouts.kind).toBe('exposure');
        const plane = (await cutouts.read(0)).plane;
        const plain = await FitsCutouts.open(join(FIX, 'stamps_r.fits'));
        expect(Array.from(plane.data)).toEqual(Array.from((await plain.read(0)).plane.data));
        await plain.close();
        for (const h of cutouts.file.hdus.filter((x) => x.extname === 'MASK' || x.extname === 'VARIANCE')) {
          expect(sources[0].reads.filter((r) => overlaps(r, dataRange(h)))).toEqual([]);
        }
      } finally {
        await channels[0].cutouts.close();
      }
    } finally {
      await stamps.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Stamps writer, in Rubin layout', () => {
  const python = pythonWith(['astropy']);
  it.skipIf(!python)('writes IMAGE, MASK (int32, MP_* planes) and VARIANCE per stamp, as astropy lists them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stamps-writer-'));
    try {
      const path = join(dir, 'g.fits');
      const planes = [syntheticStamp(20, 16, 5)[0], syntheticStamp(20, 16, 6)[0]];
      const mask = new Int32Array(20 * 16);
      mask[3] = 1 << 8;
      await writeStampsFile(path, 2, (i) => ({ plane: planes[i], ...(i === 1 ? { mask } : {}) }), [{ ra: 1, dec: 2 }, { ra: 3, dec: 4 }], { maskedImage: true });
      const script = `
import json, sys
from astropy.io import fits
h = fits.open(sys.argv[1])
print(json.dumps({'hdus': [[x.name, x.ver, str(x.data.dtype) if x.data is not None else None] for x in h],
  'flags': [bool(h[0].header['HAS_MASK']), bool(h[0].header['HAS_VARIANCE'])],
  'noData': int(h['MASK', 2].data[0, 3]), 'mp': h['MASK', 1].header['MP_NO_DATA'],
  'image': float(h['IMAGE', 2].data[1, 2])}))`;
      const r = spawnSync(python!, ['-c', script, path], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as { hdus: [string, number, string | null][]; flags: boolean[]; noData: number; mp: number; image: number };
      expect(got.hdus).toEqual([
        ['PRIMARY', 1, null],
        ['IMAGE', 1, '>f4'],
        ['MASK', 1, '>i4'],
        ['VARIANCE', 1, '>f4'],
        ['IMAGE', 2, '>f4'],
        ['MASK', 2, '>i4'],
        ['VARIANCE', 2, '>f4'],
      ]);
      expect(got.flags).toEqual([true, true]);
      expect(got.noData).toBe(256);
      expect(got.mp).toBe(8);
      expect(got.image).toBe(Math.fround(planes[1].data[20 + 2]));
      // And our reader takes stamp 2 from its IMAGE, not its MASK or VARIANCE.
      const cutouts = await FitsCutouts.open(path);
      try {
        expect(cutouts.count).toBe(2);
        expect(Array.from((await cutouts.read(1)).plane.data)).toEqual(Array.from(planes[1].data, Math.fround));
      } finally {
        await cutouts.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
