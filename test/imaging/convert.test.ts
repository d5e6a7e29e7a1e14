import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { convertSet, type StampLine } from '../../src/imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../../src/imaging/convert.js';
import { parseAvmXmp } from '../../src/imaging/png/avm.js';
import { readTextChunks, readXmp } from '../../src/imaging/png/png-chunks.js';
import { pixelToSky, type CelestialWcs } from '../../src/imaging/wcs.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { sepArcsec } from '../support/sky.js';
import { wcsFromAvm } from '../support/avm.js';

const FIX = join(import.meta.dirname, '../fixtures/fits');
const index = JSON.parse(readFileSync(join(FIX, 'expected_rgb/index.json'), 'utf8')) as {
  set: string;
  stamp: number;
  width: number;
  height: number;
  lupton: { params: { minimum: number; stretch: number; Q: number }; rgb: string };
}[];
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { file: string; hdu?: number; samples?: { pixel: [number, number]; world: [number, number] }[] }[];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'convert-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const bands = (set: string) => ['i', 'r', 'g'].map((band) => ({ band, path: join(FIX, `${set}_${band}.fits`) }));

async function run(set: string, opts: Partial<ConvertOptions>, workers = 0, channels = bands(set)) {
  const out = await mkdtemp(join(tmp, `${set}-`));
  const result = await convertSet({ channels, outDir: out, opts: { ...DEFAULT_CONVERT_OPTIONS, ...opts }, workers });
  const text = await readFile(join(out, 'stamps.jsonl'), 'utf8');
  const lines = text.trim() ? text.trim().split('\n').map((l) => JSON.parse(l) as StampLine) : [];
  return { out, result, lines };
}


function avmWcs(png: Uint8Array): { wcs: CelestialWcs; tags: Record<string, string | string[]> } {
  const tags = parseAvmXmp(readXmp(png)!);
  const wcs = wcsFromAvm(tags);
  return { wcs, tags };
}

describe('bridge convert: colour equals astropy make_lupton_rgb', () => {
  for (const set of [...new Set(index.map((e) => e.set))]) {
    it(`${set}: every stamp within 1 of astropy after the row flip`, async () => {
      const entries = index.filter((e) => e.set === set);
      const p = entries[0].lupton.params;
      const { result, lines, out } = await run(set, { colour: { preset: 'lupton', minimum: p.minimum, stretch: p.stretch, Q: p.Q } });
      expect(result.failed).toEqual([]);
      expect(lines.map((l) => l.index)).toEqual(entries.map((e) => e.stamp));
      let exact = 0;
      let total = 0;
      for (const e of entries) {
        const line = lines[e.stamp];
        expect([line.width, line.height]).toEqual([e.width, e.height]);
        const png = pngjs.PNG.sync.read(await readFile(join(out, line.file)));
        const want = readFileSync(join(FIX, e.lupton.rgb));
        for (let i = 0, j = 0; i < want.length; i += 3, j += 4) {
          for (let c = 0; c < 3; c++) {
            const d = Math.abs(png.data[j + c] - want[i + c]);
            expect(d).toBeLessThanOrEqual(1);
            if (d === 0) exact++;
            total++;
          }
        }
      }
      // Not only within 1: nearly every byte should be identical.
      expect(exact / total).toBeGreaterThan(0.99);
    });
  }
});

describe('bridge convert: sky coordinates', () => {
  it('Stamps without a sky WCS: position-quality AVM at RA_DEG/DEC_DEG (RA near 0/360 kept)', async () => {
    const { lines, out } = await run('stamps', {});
    expect(lines.map((l) => l.wcs)).toEqual(['position', 'position', 'position']);
    expect(lines[0].ra).toBeCloseTo(359.9991, 9);
    expect(lines[1].ra).toBeCloseTo(0.0004, 9);
    expect(lines[1].dec).toBeCloseTo(-29.9, 9);
    const png = await readFile(join(out, lines[1].file));
    const { wcs, tags } = avmWcs(png);
    expect(tags['Spatial.Quality']).toBe('Position');
    expect(sepArcsec(pixelToSky(wcs, (31 + 1) / 2, (25 + 1) / 2)!, [0.0004, -29.9])).toBeLessThan(0.001);
    expect(Math.abs(Number((tags['Spatial.Scale'] as string[])[1]) * 3600 - 0.2)).toBeLessThan(1e-12);
    const prov = JSON.parse(readTextChunks(png)['bridge:provenance']);
    expect(prov.channels).toEqual({ R: 'i', G: 'r', B: 'g' });
    expect(prov.stamp).toBe(1);
    expect(prov.colour.preset).toBe('sky-asinh');
    expect(prov.sources.map((s: { file: string }) => s.file.split('/').pop())).toEqual(['stamps_i.fits', 'stamps_r.fits', 'stamps_g.fits']);
  });

  for (const [set, file] of [['stamps_wcs', 'stamps_wcs_i.fits'], ['exposure_rot30', 'exposure_rot30_i.fits']] as const) {
    it(`${set}: full WCS read back from the AVM equals astropy's to < 0.01 arcsec`, async () => {
      const { lines, out } = await run(set, {});
      for (const line of lines) {
        expect(line.wcs).toBe('full');
        const { wcs, tags } = avmWcs(await readFile(join(out, line.file)));
        expect(tags['Spatial.Quality']).toBe('Full');
        const f = await FitsFile.openPath(join(FIX, file));
        const hduIndex = f.hdus.filter((h) => h.extname === 'IMAGE')[line.index].index;
        await f.close();
        const e = expected.find((x) => x.file === file && x.hdu === hduIndex)!;
        for (const s of e.samples!) expect(sepArcsec(pixelToSky(wcs, ...s.pixel)!, s.world)).toBeLessThan(0.01);
      }
    });
  }

  it('an east-right (mirrored) image is flipped to standard parity, and its AVM still gives the true sky', async () => {
    const { lines, out } = await run('flipped', {}, 0, [{ band: 'r', path: join(FIX, 'exposure_flipped.fits') }]);
    const png = await readFile(join(out, lines[0].file));
    const { wcs, tags } = avmWcs(png);
    expect(Number((tags['Spatial.Scale'] as string[])[0])).toBeLessThan(0);
    expect(JSON.parse(readTextChunks(png)['bridge:provenance']).mirrored).toBe(true);
    const e = expected.find((x) => x.file === 'exposure_flipped.fits' && x.samples)!;
    for (const s of e.samples!) expect(sepArcsec(pixelToSky(wcs, 64 + 1 - s.pixel[0], s.pixel[1])!, s.world)).toBeLessThan(0.01);
  });

  it('--max-side shrinks and keeps the sky: outer pixel edges land on the same coordinates', async () => {
    const { lines, out } = await run('exposure_rot30', { maxSide: 16 });
    expect([lines[0].width, lines[0].height]).toEqual([16, 12]);
    const { wcs } = avmWcs(await readFile(join(out, lines[0].file)));
    const e = expected.find((x) => x.file === 'exposure_rot30_i.fits' && x.samples)!;
    // Centre of the image is the same sky position at both sizes.
    const centre = e.samples!.find((s) => s.pixel[0] === 32.5)!;
    expect(sepArcsec(pixelToSky(wcs, 8.5, 6.5)!, centre.world)).toBeLessThan(0.01);
  });
});

describe('bridge convert: bad input', () => {
  it('bands that disagree in stamp count: the stamp a band lacks is a failed entry naming that file, not a refusal of the set', async () => {
    const channels = [
      { band: 'i', path: join(FIX, 'stamps_i.fits') },
      { band: 'r', path: join(FIX, 'stamps_gz_r.fits') },
      { band: 'g', path: join(FIX, 'stamps_g.fits') },
    ];
    const { result } = await run('mixed', {}, 0, channels);
    expect(result.total).toBe(3);
    expect(result.failed[2]).toEqual({ index: 2, error: expect.stringMatching(/^missing from \S*stamps_gz_r\.fits: it has 2 stamps, band i \(\S*stamps_i\.fits\) has 3$/), missing: true });
    expect(result.warnings.join('\n')).toMatch(/stamps_gz_r\.fits: stamp 3 of 3 missing/);
  });

  it('bands that disagree in shape fail per stamp, naming the bands', async () => {
    const channels = [
      { band: 'i', path: join(FIX, 'stamps_gz_i.fits') },
      { band: 'r', path: join(FIX, 'stamps_wcs_r.fits') },
      { band: 'g', path: join(FIX, 'stamps_gz_g.fits') },
    ];
    const { result } = await run('shape', {}, 0, channels);
    expect(result.converted).toBe(0);
    expect(result.failed[0].error).toMatch(/band r is 41 x 41 but band i is 33 x 29/);
  });

  it('one corrupt stamp is reported and skipped; the others convert (also with worker threads)', async () => {
    // Damage the compressed heap of stamp 2's IMAGE in the r band.
    const bytes = new Uint8Array(readFileSync(join(FIX, 'stamps_gz_r.fits')));
    const f = await FitsFile.fromBytes(bytes);
    const img2 = f.find('IMAGE', 2)!;
    const rowBytes = img2.header.number('NAXIS1')! * img2.header.number('NAXIS2')!;
    for (let k = 0; k < 40; k++) bytes[img2.dataOffset + rowBytes + 20 + k] ^= 0x5a;
    const damaged = join(tmp, 'stamps_gz_r_damaged.fits');
    await writeFile(damaged, bytes);
    await copyFile(join(FIX, 'stamps_gz_i.fits'), join(tmp, 'i.fits'));
    const channels = [
      { band: 'i', path: join(tmp, 'i.fits') },
      { band: 'r', path: damaged },
      { band: 'g', path: join(FIX, 'stamps_gz_g.fits') },
    ];
    for (const workers of [0, 2]) {
      const { result, lines } = await run('damaged', {}, workers, channels);
      expect(result.converted).toBe(1);
      expect(result.failed).toHaveLength(1);
      expect(result.failed[0].index).toBe(1);
      expect(result.failed[0].error).toMatch(/stamps_gz_r_damaged\.fits, HDU \d+ \(IMAGE,2\): tile \d+: (gzip|RICE)/);
      expect(lines.map((l) => l.index)).toEqual([0]);
    }
  });

  it('a PNG over the size limit is a clear per-stamp error', async () => {
    const { result } = await run('stamps', { maxBytes: 500 });
    expect(result.converted).toBe(0);
    expect(result.failed[0].error).toMatch(/over the 500-byte limit/);
  });
});

describe('worker threads give the same output as one thread', () => {
  it('identical PNG bytes and stamps.jsonl', async () => {
    const a = await run('stamps_gz', {}, 0);
    const b = await run('stamps_gz', {}, 2);
    expect(b.lines.map(({ file, ...r }) => r)).toEqual(a.lines.map(({ file, ...r }) => r));
    for (const l of a.lines) expect(await readFile(join(b.out, l.file))).toEqual(await readFile(join(a.out, l.file)));
  });
});
