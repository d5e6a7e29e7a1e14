import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { convertSet } from '../../src/imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../../src/imaging/convert.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { readImage } from '../../src/imaging/fits/image-reader.js';
import { luptonRgb } from '../../src/imaging/colour/lupton.js';
import { concat, headerBlock, padData } from '../support/fits-builder.js';
import { pythonWith } from '../support/python.js';

/**
 * Scaled int16 cutouts whose Lupton intensity cancels. astropy reads int16 +
 * BSCALE/BZERO as float32, scaling in float32 steps, and forms the intensity
 * in float32; where its three values sum to exactly 0 the pixel is black.
 * Values one float32 step off (scaled in double, rounded once) leave a tiny
 * positive intensity there, and the asinh slope lights the pixel up.
 * Fixture: test/fixtures/make_int16_cancel.py (astropy 5.2, numpy 1.24).
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
interface CancelIndex {
  width: number;
  height: number;
  order: string[];
  bscale: number;
  bzero: number;
  blank: number;
  params: { minimum: number; stretch: number; Q: number };
  files: Record<string, string>;
  values: Record<string, string>;
  rgb: string;
  pixels: { cancel: [number, number][]; float32_zero: [number, number][]; blank: [number, number][] };
}
const index = JSON.parse(readFileSync(join(FIX, 'int16_cancel.json'), 'utf8')) as CancelIndex;
const { width: W, height: H } = index;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lupton-int16-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const luptonOpts = (p: CancelIndex['params']): ConvertOptions => ({
  ...DEFAULT_CONVERT_OPTIONS,
  colour: { preset: 'lupton', minimum: p.minimum, stretch: p.stretch, Q: p.Q },
});

/** Converts one band set (R, G, B order) and returns the colour image's RGB bytes, PNG row order. */
async function convertToRgb(paths: string[], opts: ConvertOptions): Promise<{ rgb: Uint8Array; width: number }> {
  const out = await mkdtemp(join(tmp, 'out-'));
  const result = await convertSet({ channels: paths.map((path, c) => ({ band: ['i', 'r', 'g'][c], path })), outDir: out, opts, workers: 0 });
  expect(result.failed).toEqual([]);
  const png = pngjs.PNG.sync.read(await readFile(join(out, 'stamp-00000.png')));
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) rgb.set(png.data.subarray(j, j + 3), i);
  return { rgb, width: png.width };
}

/** FITS pixel (x, y), row 0 at the bottom, as an offset into PNG-ordered RGB bytes. */
const at = (x: number, y: number, height = H, width = W) => ((height - 1 - y) * width + x) * 3;

function rawInts(file: string): Int16Array {
  const f = readFileSync(join(FIX, file));
  // One header block, then big-endian int16 (see the generator).
  const dv = new DataView(f.buffer, f.byteOffset + 2880, W * H * 2);
  return Int16Array.from({ length: W * H }, (_, i) => dv.getInt16(2 * i));
}

describe('int16 BSCALE/BZERO: pixels and colour as astropy makes them', () => {
  it('every pixel equals what astropy reads (float32 steps: raw, times BSCALE, plus BZERO)', async () => {
    for (const band of index.order) {
      const f = await FitsFile.openPath(join(FIX, index.files[band]));
      try {
        const img = await readImage(f, f.hdus[0]);
        expect(img.data).toBeInstanceOf(Float32Array);
        const buf = readFileSync(join(FIX, index.values[band]));
        const want = new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
        const wrong = [...want.keys()].filter((i) => !(Number.isNaN(want[i]) ? Number.isNaN(img.data[i]) : img.data[i] === want[i]));
        expect(wrong.map((i) => `pixel ${i}: ours ${img.data[i]}, astropy ${want[i]}`), band).toEqual([]);
      } finally {
        await f.close();
      }
    }
  });

  it('the fixture tells the readers apart: scaled in double, its cancelling pixels would not be black', () => {
    // Guards the test below: if the fixture stopped exercising the case, that test could not fail.
    const planes = index.order.map((band) => {
      const raw = rawInts(index.files[band]);
      const data = Float32Array.from(raw, (v) => (v === index.blank ? NaN : index.bzero + index.bscale * v));
      return { width: W, height: H, data };
    });
    const { params: p } = index;
    const out = luptonRgb(planes[0], planes[1], planes[2], { minimum: [p.minimum, p.minimum, p.minimum], stretch: p.stretch, Q: p.Q });
    for (const [x, y] of index.pixels.cancel) {
      const o = (y * W + x) * 3;
      expect(Math.max(...out.data.subarray(o, o + 3)), `pixel (${x}, ${y})`).toBeGreaterThan(0);
    }
  });

  it('bridge convert (lupton) gives astropy make_lupton_rgb byte for byte; cancelling pixels stay black', async () => {
    const { rgb } = await convertToRgb(index.order.map((b) => join(FIX, index.files[b])), luptonOpts(index.params));
    const want = new Uint8Array(readFileSync(join(FIX, index.rgb)));
    const black = [...index.pixels.cancel, ...index.pixels.float32_zero].map(([x, y]) => ({ x, y, rgb: Array.from(rgb.subarray(at(x, y), at(x, y) + 3)) }));
    expect(black.filter((p) => p.rgb.some((v) => v !== 0))).toEqual([]);
    const diffs: string[] = [];
    for (let i = 0; i < want.length; i++) if (rgb[i] !== want[i]) diffs.push(`byte ${i}: ours ${rgb[i]}, astropy ${want[i]}`);
    expect(diffs).toEqual([]);
  });
});

/** A plain int16 primary image with BSCALE/BZERO (raw values written as they are). */
function int16Fits(width: number, height: number, raw: Int16Array, bscale: number, bzero: number): Uint8Array {
  const data = new Uint8Array(raw.length * 2);
  const dv = new DataView(data.buffer);
  raw.forEach((v, i) => dv.setInt16(2 * i, v));
  const head = headerBlock([
    ['SIMPLE', true],
    ['BITPIX', 16],
    ['NAXIS', 2],
    ['NAXIS1', width],
    ['NAXIS2', height],
    ['BSCALE', bscale],
    ['BZERO', bzero],
  ]);
  return concat([head, padData(data)]);
}

const PYTHON = pythonWith(['astropy', 'numpy']);

const ASTROPY_RGB = `
import json, sys, warnings
import numpy as np
from astropy.io import fits
from astropy.visualization import make_lupton_rgb
warnings.simplefilter('ignore')
out = []
for case in json.loads(sys.stdin.read()):
    r, g, b = (fits.getdata(p) for p in case['paths'])
    rgb = make_lupton_rgb(r, g, b, minimum=case['minimum'], stretch=case['stretch'], Q=case['Q'])
    out.append({'dtype': str(r.dtype), 'rgb': np.flipud(rgb).astype(np.uint8).tobytes().hex()})
print(json.dumps(out))
`;

describe.skipIf(!PYTHON)('int16 BSCALE/BZERO near-cancelling sums: astropy make_lupton_rgb, live', () => {
  it('many scalings and near-zero sums: every byte equals astropy', async () => {
    // Seeded (mulberry32), so a failure reproduces.
    let seed = 12345;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const [w, h] = [48, 40];
    const cases: { paths: string[]; minimum: number; stretch: number; Q: number }[] = [];
    for (const [k, [bscale, bzero, minimum, stretch]] of [
      [0.1, -2.5, 0, 5],
      [1 / 3, 7.77, 7.77, 2],
      [0.01, 0, 0, 1],
      [0.7, 1000.3, 1000.3, 50],
    ].entries()) {
      // r = -g - b plus a unit or two of noise, as raw integers: sums hover at 0.
      const r = new Int16Array(w * h);
      const g = new Int16Array(w * h);
      const b = new Int16Array(w * h);
      for (let i = 0; i < r.length; i++) {
        const span = i % 2 ? 3000 : 40;
        g[i] = int(-span, span);
        b[i] = i % 3 ? int(-span, span) : 0;
        r[i] = -g[i] - b[i] + int(-2, 2);
      }
      const paths = ['r', 'g', 'b'].map((c) => join(tmp, `live${k}_${c}.fits`));
      await Promise.all([r, g, b].map((raw, c) => writeFile(paths[c], int16Fits(w, h, raw, bscale, bzero))));
      cases.push({ paths, minimum, stretch, Q: 8 });
    }
    const py = spawnSync(PYTHON!, ['-c', ASTROPY_RGB], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(py.status, py.stderr).toBe(0);
    const want = JSON.parse(py.stdout) as { dtype: string; rgb: string }[];
    for (const [k, c] of cases.entries()) {
      expect(want[k].dtype).toBe('float32');
      const { rgb } = await convertToRgb(c.paths, luptonOpts(c));
      const expected = Buffer.from(want[k].rgb, 'hex');
      const diffs: string[] = [];
      for (let i = 0; i < expected.length; i++) if (rgb[i] !== expected[i]) diffs.push(`case ${k} byte ${i}: ours ${rgb[i]}, astropy ${expected[i]}`);
      expect(diffs.slice(0, 10), `${diffs.length} bytes differ`).toEqual([]);
    }
  });
});
