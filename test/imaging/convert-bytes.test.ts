import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertBands, type BandSource, type ConvertedStamp } from '../../src/imaging/convert-bands.js';
import { convertSet, type StampLine } from '../../src/imaging/convert-set.js';
import { convertZip, convertZipBytes, type ZipStamp } from '../../src/imaging/convert-zip.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { primaryHeaderOf, readPrimaryHeader } from '../../src/imaging/fits/observation-time.js';
import { encodePng } from '../../src/imaging/png/png-writer.js';
import { makeZip } from '../support/butler-server.js';

/**
 * The pipeline converts artifacts from memory (no temporary files): bands
 * given as bytes must give exactly what the same files give on disk, in this
 * thread and on worker threads (which share the bytes).
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
const opts = { ...DEFAULT_CONVERT_OPTIONS, frames: true };

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'convert-bytes-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function fromFiles(set: string, workers: number): Promise<{ lines: StampLine[]; read: (f: string) => Promise<Buffer> }> {
  const out = await mkdtemp(join(tmp, 'files-'));
  await convertSet({ channels: ['i', 'r', 'g'].map((band) => ({ band, path: join(FIX, `${set}_${band}.fits`) })), outDir: out, opts, workers });
  const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StampLine);
  return { lines, read: (f) => readFile(join(out, f)) };
}

async function fromBytes(set: string, workers: number): Promise<ConvertedStamp[]> {
  // Named as the files, so the provenance chunks (and so the PNG bytes) are the same.
  const channels: BandSource[] = await Promise.all(['i', 'r', 'g'].map(async (band) => ({ band, bytes: new Uint8Array(await readFile(join(FIX, `${set}_${band}.fits`))), name: join(FIX, `${set}_${band}.fits`) })));
  const got: ConvertedStamp[] = [];
  const r = await convertBands({ channels, opts, workers, onStamp: (s) => void got.push(s) });
  expect(r.failed).toEqual([]);
  expect(r.converted).toBe(got.length);
  return got.sort((a, b) => a.index - b.index);
}

describe('conversion from bytes', () => {
  for (const set of ['stamps_wcs', 'stamps_gz']) {
    for (const workers of [0, 2]) {
      it(`${set}, ${workers} worker threads: the same PNGs and frames as from the files`, async () => {
        const files = await fromFiles(set, 0);
        const stamps = await fromBytes(set, workers);
        expect(stamps.map((s) => s.index)).toEqual(files.lines.map((l) => l.index));
        for (const [k, s] of stamps.entries()) {
          const line = files.lines[k];
          expect({ ...s.record }).toEqual({ index: line.index, ra: line.ra, dec: line.dec, width: line.width, height: line.height, wcs: line.wcs, bytes: line.bytes });
          expect(Buffer.from(s.png).equals(await files.read(line.file))).toBe(true);
          expect(s.frames!.map((f) => f.band)).toEqual(['i', 'r', 'g']);
          for (const [j, f] of s.frames!.entries()) expect(Buffer.from(f.png).equals(await files.read(line.frames![j].file))).toBe(true);
        }
      });
    }
  }

  for (const workers of [0, 2]) {
    it(`a consumer that fails stops the conversion with its error (${workers} worker threads)`, async () => {
      const channels: BandSource[] = await Promise.all(['i', 'r', 'g'].map(async (band) => ({ band, bytes: await readFile(join(FIX, `stamps_wcs_${band}.fits`)), name: `${band}.fits` })));
      let taken = 0;
      const boom = new Error('store unavailable');
      await expect(
        convertBands({
          channels,
          opts,
          workers,
          onStamp: () => {
            if (++taken === 2) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(taken).toBe(2);
    });
  }

  it('a band that is not FITS names itself in the error', async () => {
    const channels: BandSource[] = [
      { band: 'i', bytes: await readFile(join(FIX, 'stamps_i.fits')), name: 'i-aaa.fits' },
      { band: 'r', bytes: new TextEncoder().encode('not a fits file at all'.padEnd(2880)), name: 'r-bbb.fits' },
    ];
    await expect(convertBands({ channels, opts: DEFAULT_CONVERT_OPTIONS, workers: 0, onStamp: () => {} })).rejects.toThrow(/r-bbb\.fits/);
  });

  it('the primary header of a file in memory is the one read from disk', async () => {
    for (const f of ['stamps_i.fits', 'exposure_rot30_i.fits', 'rice_int16.fits']) {
      const fromDisk = await readPrimaryHeader(join(FIX, f));
      const fromMemory = primaryHeaderOf(await readFile(join(FIX, f)));
      expect(fromMemory?.string('DATE-OBS')).toEqual(fromDisk?.string('DATE-OBS'));
      expect(fromMemory?.number('NAXIS')).toEqual(fromDisk?.number('NAXIS'));
    }
    expect(primaryHeaderOf(new Uint8Array(100))).toBeNull();
  });
});

describe('ZIP renderings from bytes', () => {
  it('give the images and stamps.jsonl that the archive on disk gives', async () => {
    const png = (seed: number) => {
      const data = new Uint8Array(20 * 10 * 3).map((_, i) => (i * 5 + seed) & 0xff);
      return encodePng({ width: 20, height: 10, channels: 3, data }, { level: 6, maxBytes: 1e6 });
    };
    const archive = makeZip([
      { name: 'a.png', data: png(1), deflate: true },
      { name: 'b.png', data: png(2) },
      { name: 'notes.txt', data: new TextEncoder().encode('skip me') },
    ]);
    const path = join(tmp, 'renderings.zip');
    await writeFile(path, archive);
    const out = join(tmp, 'zip-out');
    const onDisk = await convertZip(path, out, { level: 6, maxBytes: 1e6 });
    const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StampLine);

    const got: ZipStamp[] = [];
    const inMemory = await convertZipBytes(archive, path, { level: 6, maxBytes: 1e6 }, (img) => void got.push(img));
    expect(inMemory).toEqual(onDisk);
    expect(inMemory.warnings).toHaveLength(1);
    expect(got.map((g) => [g.index, g.entry, g.ext])).toEqual([
      [0, 'a.png', 'png'],
      [1, 'b.png', 'png'],
    ]);
    for (const [k, g] of got.entries()) {
      expect(Buffer.from(g.bytes).equals(await readFile(join(out, lines[k].file)))).toBe(true);
      expect({ file: lines[k].file, ...g.record }).toEqual(lines[k]);
    }
  });
});
