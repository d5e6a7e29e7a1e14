import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { convertSet, frameFileName, type BandFile, type StampLine } from '../../src/imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../../src/imaging/convert.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';
import { rng, syntheticStamp } from '../../src/imaging/synthetic.js';
import { parseAvmXmp } from '../../src/imaging/png/avm.js';
import { readChunks, readTextChunks, readXmp } from '../../src/imaging/png/png-chunks.js';
import { pixelToSky } from '../../src/imaging/wcs.js';
import type { ImagePlane } from '../../src/imaging/types.js';
import { sepArcsec } from '../support/sky.js';
import { wcsFromAvm } from '../support/avm.js';

const ROOT = join(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/fits');
const fixture = (set: string, bands = ['i', 'r', 'g']): BandFile[] => bands.map((band) => ({ band, path: join(FIX, `${set}_${band}.fits`) }));

let tmp: string;
/** A 3-band east-right set (48 x 36, full WCS) with a saturating 2 x 2 marker at FITS x 4-5, y 28-29 in every band. */
let mirroredSet: BandFile[];
/** Bands r and g flat and bright, i noise: the colour image is nearly constant, i's frame is not. */
let noisySet: BandFile[];

const W = 48;
const H = 36;
const MARKER = 1e6;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frames-test-'));
  const stamps = [0, 1].map((s) => syntheticStamp(W, H, 100 + s));
  const r = (20 * Math.PI) / 180;
  const s = 0.2 / 3600;
  // Positive determinant: east to the right, so the converter mirrors the stamp.
  const cards: [string, string | number][] = [
    ['CTYPE1', 'RA---TAN'],
    ['CTYPE2', 'DEC--TAN'],
    ['RADESYS', 'ICRS'],
    ['CRVAL1', 150.1],
    ['CRVAL2', 2.2],
    ['CRPIX1', 20.5],
    ['CRPIX2', 15.5],
    ['CD1_1', s * Math.cos(r)],
    ['CD1_2', -s * Math.sin(r)],
    ['CD2_1', s * Math.sin(r)],
    ['CD2_2', s * Math.cos(r)],
  ];
  const withMarker = (p: ImagePlane): ImagePlane => {
    const data = Float32Array.from(p.data);
    for (const y of [28, 29]) for (const x of [4, 5]) data[y * W + x] = MARKER;
    return { width: W, height: H, data };
  };
  mirroredSet = [];
  // syntheticStamp gives g, r, i; channels are R, G, B = i, r, g.
  for (const [band, k] of [['i', 2], ['r', 1], ['g', 0]] as const) {
    const path = join(tmp, `mirrored_${band}.fits`);
    await writeStampsFile(path, stamps.length, (i) => ({ plane: withMarker(stamps[i][k]), cards }), [
      { ra: 150.1, dec: 2.2 },
      { ra: 150.1, dec: 2.2 },
    ]);
    mirroredSet.push({ band, path });
  }

  const noise = rng(7);
  const n = 64 * 64;
  const planes: Record<string, ImagePlane> = {
    i: { width: 64, height: 64, data: Float32Array.from({ length: n }, () => noise() * 10) },
    r: { width: 64, height: 64, data: new Float32Array(n).fill(1e6) },
    g: { width: 64, height: 64, data: new Float32Array(n).fill(1e6) },
  };
  noisySet = [];
  for (const band of ['i', 'r', 'g']) {
    const path = join(tmp, `noisy_${band}.fits`);
    await writeStampsFile(path, 1, () => ({ plane: planes[band] }), [{ ra: 10, dec: -5 }]);
    noisySet.push({ band, path });
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function run(channels: BandFile[], opts: Partial<ConvertOptions>, workers = 0) {
  const out = await mkdtemp(join(tmp, 'out-'));
  const result = await convertSet({ channels, outDir: out, opts: { ...DEFAULT_CONVERT_OPTIONS, ...opts }, workers });
  const text = await readFile(join(out, 'stamps.jsonl'), 'utf8');
  const lines = text.trim() ? text.trim().split('\n').map((l) => JSON.parse(l) as StampLine) : [];
  const read = async (file: string) => new Uint8Array(await readFile(join(out, file)));
  return { out, result, lines, read };
}

function decode(png: Uint8Array) {
  return pngjs.PNG.sync.read(Buffer.from(png));
}

/** PNG colour type from IHDR: 0 is grey, 2 RGB. */
function colourType(png: Uint8Array): number {
  return readChunks(png)[0].data[9];
}

/** [column, row] of every pixel at 255 in any channel, in PNG coordinates (row 0 at the top). */
function saturated(png: Uint8Array): [number, number][] {
  const img = decode(png);
  const out: [number, number][] = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const o = 4 * (y * img.width + x);
      if (img.data[o] === 255 || img.data[o + 1] === 255 || img.data[o + 2] === 255) out.push([x, y]);
    }
  }
  return out;
}

/**
 * Checks the contract: with frames on, every stamp's frames are, in channel
 * order, byte for byte what a one-band conversion of that band gives with
 * `single` options (the same options unless per-channel ones are narrowed).
 */
async function expectFramesEqualOneBand(
  channels: BandFile[],
  opts: Partial<ConvertOptions>,
  single: (band: string, c: number) => Partial<ConvertOptions> = () => opts,
) {
  const colour = await run(channels, { ...opts, frames: true });
  expect(colour.result.failed).toEqual([]);
  expect(colour.lines.length).toBeGreaterThan(0);
  for (const [c, ch] of channels.entries()) {
    const alone = await run([ch], { ...single(ch.band, c), frames: true });
    expect(alone.result.failed).toEqual([]);
    for (const [k, line] of colour.lines.entries()) {
      const frame = line.frames![c];
      expect(frame).toEqual({ band: ch.band, file: frameFileName(line.index, ch.band), bytes: alone.lines[k].bytes });
      expect(await colour.read(frame.file)).toEqual(await alone.read(alone.lines[k].file));
    }
  }
  return colour;
}

describe('frames off: unchanged output', () => {
  it('no frames key, no extra files, and the colour PNGs are the same bytes as with frames on', async () => {
    const off = await run(fixture('stamps'), {});
    const falsy = await run(fixture('stamps'), { frames: false });
    const on = await run(fixture('stamps'), { frames: true });
    expect((await readdir(off.out)).sort()).toEqual(['stamp-00000.png', 'stamp-00001.png', 'stamp-00002.png', 'stamps.jsonl']);
    expect(off.result).not.toHaveProperty('frames');
    for (const l of off.lines) expect(l).not.toHaveProperty('frames');
    expect(falsy.lines).toEqual(off.lines);
    expect(on.lines.map(({ frames, ...rest }) => rest)).toEqual(off.lines);
    for (const l of off.lines) {
      expect(await falsy.read(l.file)).toEqual(await off.read(l.file));
      expect(await on.read(l.file)).toEqual(await off.read(l.file));
    }
    expect(on.result.frames).toBe(9);
  });

  it('one band: frames is ignored (its image already is the grey frame)', async () => {
    const { lines, result, out } = await run(fixture('stamps', ['r']), { frames: true });
    expect(result.converted).toBe(3);
    expect(result).not.toHaveProperty('frames');
    for (const l of lines) expect(l).not.toHaveProperty('frames');
    expect((await readdir(out)).filter((f) => f.endsWith('.png'))).toHaveLength(3);
  });
});

describe('frames equal the one-band conversion of each band', () => {
  it('3 bands (position-only WCS): byte-identical, grey, same size as the colour image; provenance names the band', async () => {
    const { lines, read } = await expectFramesEqualOneBand(fixture('stamps'), {});
    for (const line of lines) {
      expect(line.frames!.map((f) => f.band)).toEqual(['i', 'r', 'g']);
      expect(line.frames!.map((f) => f.file)).toEqual(['i', 'r', 'g'].map((b) => `stamp-${String(line.index).padStart(5, '0')}-${b}.png`));
      const colour = await read(line.file);
      expect(colourType(colour)).toBe(2);
      for (const f of line.frames!) {
        const png = await read(f.file);
        expect(f.bytes).toBe(png.length);
        expect(colourType(png)).toBe(0);
        const img = decode(png);
        expect([img.width, img.height]).toEqual([line.width, line.height]);
        for (let i = 0; i < img.data.length; i += 4) {
          expect(img.data[i + 1]).toBe(img.data[i]);
          expect(img.data[i + 2]).toBe(img.data[i]);
        }
        const prov = JSON.parse(readTextChunks(png)['bridge:provenance']);
        expect(prov.channels).toEqual({ grey: f.band });
        expect(prov.sources.map((s: { band: string }) => s.band)).toEqual([f.band]);
        expect(prov.stamp).toBe(line.index);
        expect(readTextChunks(png).Source).toBe(`stamps_${f.band}.fits`);
      }
    }
  });

  it('full WCS, legacy-survey and linear presets, and two bands (R and B)', async () => {
    await expectFramesEqualOneBand(fixture('stamps_wcs'), { colour: { preset: 'legacy-survey' } });
    await expectFramesEqualOneBand(fixture('exposure_rot30'), { colour: { preset: 'linear' }, level: 9 });
    const two = await expectFramesEqualOneBand(fixture('stamps_gz', ['i', 'g']), { colour: { preset: 'lupton', stretch: 40, Q: 8, minimum: 0 } });
    expect(two.lines[0].frames!.map((f) => f.band)).toEqual(['i', 'g']);
  });

  it('per-channel options are narrowed to the band: a per-band minimum and legacy-survey scales', async () => {
    const minimum: [number, number, number] = [-5, 0, 5];
    await expectFramesEqualOneBand(fixture('stamps'), { colour: { preset: 'lupton', minimum, stretch: 30 } }, (_b, c) => ({
      colour: { preset: 'lupton', minimum: minimum[c], stretch: 30 },
    }));
    // Two bands take R's and B's values; G is their mean.
    const scales: [number, number, number] = [1e-3, 2e-3, 3e-3];
    await expectFramesEqualOneBand(fixture('stamps', ['i', 'g']), { colour: { preset: 'legacy-survey', scales } }, (_b, c) => {
      const v = scales[c === 0 ? 0 : 2];
      return { colour: { preset: 'legacy-survey', scales: [v, v, v] } };
    });
  });
});

describe('frames carry the colour image\'s sky coordinates', () => {
  for (const [set, quality, opts] of [
    ['stamps', 'Position', {}],
    ['stamps_wcs', 'Full', {}],
    ['exposure_rot30', 'Full', { maxSide: 16 }],
  ] as const) {
    it(`${set}${'maxSide' in opts ? ' (shrunk)' : ''}: the frames' AVM tags and WCS are the colour image's`, async () => {
      const { lines, read } = await run(fixture(set), { ...opts, frames: true });
      for (const line of lines) {
        const colourTags = parseAvmXmp(readXmp(await read(line.file))!);
        expect(colourTags['Spatial.Quality']).toBe(quality);
        const colourWcs = wcsFromAvm(colourTags);
        for (const f of line.frames!) {
          const tags = parseAvmXmp(readXmp(await read(f.file))!);
          expect(tags).toEqual(colourTags);
          const wcs = wcsFromAvm(tags);
          expect(wcs).toEqual(colourWcs);
          for (const [x, y] of [[1, 1], [line.width, 1], [1, line.height], [line.width, line.height]]) {
            expect(sepArcsec(pixelToSky(wcs, x, y)!, pixelToSky(colourWcs, x, y)!)).toBe(0);
          }
        }
      }
    });
  }
});

describe('mirrored and shrunk stamps keep frames aligned', () => {
  // Linear 0 .. 1e5: only the marker saturates, in every band.
  const linear = { colour: { preset: 'linear' as const, minimum: 0, stretch: 1e5 } };

  it('east-right: colour image and every frame are mirrored alike (the marker lands on the same pixels)', async () => {
    const { lines, read } = await expectFramesEqualOneBand(mirroredSet, linear);
    // FITS x 4-5 mirrored to columns 42-43; FITS y 28-29 are rows 7-6 from the top.
    const want = [[42, 6], [43, 6], [42, 7], [43, 7]];
    for (const line of lines) {
      expect([line.width, line.height]).toEqual([W, H]);
      const colour = await read(line.file);
      expect(saturated(colour)).toEqual(want);
      expect(JSON.parse(readTextChunks(colour)['bridge:provenance']).mirrored).toBe(true);
      for (const f of line.frames!) {
        const png = await read(f.file);
        expect(saturated(png)).toEqual(want);
        const prov = JSON.parse(readTextChunks(png)['bridge:provenance']);
        expect(prov.mirrored).toBe(true);
        expect(prov.wcs).toBe('full');
        const tags = parseAvmXmp(readXmp(png)!);
        expect(Number((tags['Spatial.Scale'] as string[])[0])).toBeLessThan(0);
        expect(tags).toEqual(parseAvmXmp(readXmp(colour)!));
      }
    }
  });

  it('east-right and shrunk by maxSide: frames have the colour image\'s size, marker pixel and resize', async () => {
    const { lines, read } = await expectFramesEqualOneBand(mirroredSet, { ...linear, maxSide: 24 });
    for (const line of lines) {
      expect([line.width, line.height]).toEqual([24, 18]);
      const colour = await read(line.file);
      const colourProv = JSON.parse(readTextChunks(colour)['bridge:provenance']);
      expect(colourProv.resize).toEqual({ factor: [0.5, 0.5], from: [W, H] });
      expect(saturated(colour)).toEqual([[21, 3]]);
      for (const f of line.frames!) {
        const png = await read(f.file);
        const img = decode(png);
        expect([img.width, img.height]).toEqual([24, 18]);
        expect(saturated(png)).toEqual([[21, 3]]);
        const prov = JSON.parse(readTextChunks(png)['bridge:provenance']);
        expect(prov.resize).toEqual(colourProv.resize);
        expect(prov.mirrored).toBe(true);
        expect(parseAvmXmp(readXmp(png)!)).toEqual(parseAvmXmp(readXmp(colour)!));
      }
    }
  });
});

describe('worker threads write the same frames as one thread', () => {
  for (const [name, channels, opts] of [
    ['stamps_gz', () => fixture('stamps_gz'), {}],
    ['mirrored, shrunk', () => mirroredSet, { maxSide: 24 }],
  ] as const) {
    it(`${name}: identical stamps.jsonl, colour PNGs and frames`, async () => {
      const a = await run(channels(), { ...opts, frames: true }, 0);
      const b = await run(channels(), { ...opts, frames: true }, 2);
      expect(a.result.failed).toEqual([]);
      expect(b.result).toEqual(a.result);
      expect(b.lines).toEqual(a.lines);
      expect((await readdir(b.out)).sort()).toEqual((await readdir(a.out)).sort());
      for (const l of a.lines) {
        expect(l.frames).toHaveLength(channels().length);
        for (const file of [l.file, ...l.frames!.map((f) => f.file)]) expect(await b.read(file)).toEqual(await a.read(file));
      }
    });
  }
});

describe('frame limits and names', () => {
  it('a frame over --max-bytes fails its stamp even when the colour image fits (both paths)', async () => {
    const opts = { colour: { preset: 'lupton' as const, minimum: 0, stretch: 10, Q: 8 } };
    const { lines } = await run(noisySet, { ...opts, frames: true });
    const [colourBytes, ...frameBytes] = [lines[0].bytes, ...lines[0].frames!.map((f) => f.bytes)];
    // i's frame is noise; the colour image (r and g swamp i) and the other frames are flat.
    expect(frameBytes[0]).toBeGreaterThan(colourBytes + 1000);
    const maxBytes = Math.max(colourBytes, frameBytes[1], frameBytes[2]) + 10;
    for (const workers of [0, 2]) {
      const without = await run(noisySet, { ...opts, maxBytes }, workers);
      expect(without.result.converted).toBe(1);
      const { result, lines: l2, out } = await run(noisySet, { ...opts, maxBytes, frames: true }, workers);
      expect(result.converted).toBe(0);
      expect(result.frames).toBe(0);
      expect(result.failed).toHaveLength(1);
      expect(result.failed[0].error).toMatch(new RegExp(`frame of band i: .*over the ${maxBytes}-byte limit`));
      expect(l2).toEqual([]);
      // Nothing of a failed stamp is left behind.
      expect((await readdir(out)).filter((f) => f.endsWith('.png'))).toEqual([]);
    }
  });

  it('frameFileName pads like stampFileName and refuses band names that are not plain words', async () => {
    expect(frameFileName(12, 'r')).toBe('stamp-00012-r.png');
    expect(frameFileName(3, 'HSC_i2')).toBe('stamp-00003-HSC_i2.png');
    for (const bad of ['', '../r', 'r.png', 'g-r', 'r/x', 'é']) expect(() => frameFileName(0, bad)).toThrow(`band "${bad}"`);
  });

  it('a bad or repeated band name stops the set before any work (nothing written)', async () => {
    const [i, r] = fixture('stamps', ['i', 'r']);
    const out = join(tmp, 'never');
    await expect(convertSet({ channels: [i, { ...r, band: '../r' }], outDir: out, opts: { ...DEFAULT_CONVERT_OPTIONS, frames: true } })).rejects.toThrow(
      /band "\.\.\/r" cannot name a frame file/,
    );
    await expect(convertSet({ channels: [i, { ...r, band: 'I' }], outDir: out, opts: { ...DEFAULT_CONVERT_OPTIONS, frames: true } })).rejects.toThrow(
      /band "I" given twice/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('bridge convert --frames', () => {
  function bridge(args: string[]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('writes a grey frame per band in channel order, listed in stamps.jsonl and counted in the summary', async () => {
    const out = join(tmp, 'cli');
    const r = bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`, '--band', `r=${FIX}/stamps_r.fits`, '--band', `i=${FIX}/stamps_i.fits`, '--out', out, '--frames', '--workers', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out, total: 3, converted: 3, failed: 0, frames: 9 });
    const lines = (await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StampLine);
    expect(Object.keys(lines[1]).sort()).toEqual(['bytes', 'dec', 'file', 'frames', 'height', 'index', 'ra', 'wcs', 'width']);
    expect(lines[1].frames!.map((f) => [f.band, f.file])).toEqual([
      ['i', 'stamp-00001-i.png'],
      ['r', 'stamp-00001-r.png'],
      ['g', 'stamp-00001-g.png'],
    ]);
    const lib = await run(fixture('stamps'), { frames: true });
    for (const [k, line] of lines.entries()) {
      for (const f of line.frames!) {
        const png = new Uint8Array(await readFile(join(out, f.file)));
        expect(f.bytes).toBe(png.length);
        expect(png).toEqual(await lib.read(lib.lines[k].frames!.find((x) => x.band === f.band)!.file));
      }
    }
  });

  it('without --frames the summary has no frames; --frames with --zip is a usage error', async () => {
    const r = bridge(['convert', '--band', `g=${FIX}/stamps_g.fits`, '--band', `r=${FIX}/stamps_r.fits`, '--out', join(tmp, 'cli-off'), '--workers', '0']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('frames');
    const bad = bridge(['convert', '--zip', join(tmp, 'none.zip'), '--frames', '--out', join(tmp, 'cli-zip')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--frames needs FITS bands/);
  });
});
