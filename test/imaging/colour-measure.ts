import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FitsCutouts } from '../../src/imaging/cutouts/fits-cutouts.js';
import { defaultChannelOrder } from '../../src/imaging/colour/bands.js';
import { renderColour, type ColourOptions } from '../../src/imaging/colour/presets.js';
import type { ImagePlane, Raster8 } from '../../src/imaging/types.js';
import { writeDemoArtifacts, DEMO_LAYOUT } from '../../src/demo/demo-data.js';

/**
 * What the colour-default issue measures, defined once for the test and for
 * printing the figures (`npx tsx test/imaging/colour-measure.ts`).
 *
 * Per stamp, from the data (channels in the default order, reddest first):
 * - band statistics: median and sigma = 1.4826 MAD over the band's defined pixels;
 * - object pixels: where, in any band, the mean of the 5 x 5 box around the
 *   pixel exceeds the band's median by 3 sigma of such a mean (sigma / sqrt of
 *   the defined pixels in the box), grown by 2 pixels. Smoothing first finds
 *   faint extended light without cutting the noise of single sky pixels;
 * - sky: every other pixel defined in all bands;
 * - core: the 9 pixels of highest data intensity (mean over bands of the
 *   value minus the band median) inside the central box (the middle half of
 *   the stamp in each direction), i.e. the brightest few pixels of the
 *   central source.
 * From the rendered 8-bit image:
 * - skyMedian: the largest of the per-channel medians over the sky pixels, as
 *   a fraction of full scale (255);
 * - spread: the largest minus the smallest per-channel sky median, / 255;
 * - coreMax: the largest channel value among the core pixels (0..255);
 * - coreSaturated: whether any channel of a core pixel is 255.
 * Criteria: skyMedian <= 10%, spread <= 3%, no core pixel saturated, and
 * coreMax >= 128 (the object is shown, not crushed to black).
 */

export interface StampFigures {
  skyMedian: number;
  spread: number;
  coreMax: number;
  coreSaturated: boolean;
  skyPixels: number;
}

export const CRITERIA = { skyMedian: 0.1, spread: 0.03, coreMin: 128 } as const;

export function passes(f: StampFigures): boolean {
  return f.skyMedian <= CRITERIA.skyMedian && f.spread <= CRITERIA.spread && !f.coreSaturated && f.coreMax >= CRITERIA.coreMin;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export function measure(planes: ImagePlane[], raster: Raster8): StampFigures {
  const { width, height } = planes[0];
  const n = width * height;
  const stats = planes.map((p) => {
    const defined = Array.from(p.data).filter(Number.isFinite);
    const m = median(defined);
    return { median: m, sigma: 1.4826 * median(defined.map((v) => Math.abs(v - m))) };
  });
  const object = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let b = 0; b < planes.length; b++) {
        let sum = 0;
        let count = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
            const v = planes[b].data[yy * width + xx];
            if (!Number.isFinite(v)) continue;
            sum += v;
            count++;
          }
        }
        if (count > 0 && sum / count > stats[b].median + (3 * stats[b].sigma) / Math.sqrt(count)) object[y * width + x] = 1;
      }
    }
  }
  const grown = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!object[y * width + x]) continue;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < height && xx >= 0 && xx < width) grown[yy * width + xx] = 1;
        }
      }
    }
  }
  const k = raster.channels;
  const skyValues: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    if (grown[i] || planes.some((p) => !Number.isFinite(p.data[i]))) continue;
    for (let c = 0; c < k; c++) skyValues[c].push(raster.data[k * i + c]);
  }
  const skyMedians = skyValues.map(median);
  const centre: { i: number; I: number }[] = [];
  for (let y = Math.floor(height / 4); y < Math.ceil((3 * height) / 4); y++) {
    for (let x = Math.floor(width / 4); x < Math.ceil((3 * width) / 4); x++) {
      const i = y * width + x;
      let s = 0;
      for (let b = 0; b < planes.length; b++) {
        const v = planes[b].data[i];
        if (Number.isFinite(v)) s += v - stats[b].median;
      }
      centre.push({ i, I: s / planes.length });
    }
  }
  const core = centre.sort((a, b) => b.I - a.I).slice(0, 9);
  let coreMax = 0;
  let coreSaturated = false;
  for (const { i } of core) {
    for (let c = 0; c < k; c++) {
      const v = raster.data[k * i + c];
      coreMax = Math.max(coreMax, v);
      if (v === 255) coreSaturated = true;
    }
  }
  return {
    skyMedian: Math.max(...skyMedians) / 255,
    spread: (Math.max(...skyMedians) - Math.min(...skyMedians)) / 255,
    coreMax,
    coreSaturated,
    skyPixels: skyValues[0].length,
  };
}

export interface InputStamps {
  name: string;
  /** Each stamp's planes in channel order (reddest first). */
  stamps: ImagePlane[][];
}

const FITS = fileURLToPath(new URL('../fixtures/fits/', import.meta.url));

/** The multi-band FITS fixtures (g, r, i each). */
export const FIXTURE_SETS = ['stamps', 'stamps_gz', 'stamps_wcs', 'exposure_rot30', 'int16_cancel'] as const;

async function readSet(name: string, files: Record<string, string>): Promise<InputStamps> {
  const order = defaultChannelOrder(Object.keys(files));
  const opened = await Promise.all(order.map((b) => FitsCutouts.open(files[b])));
  try {
    const stamps: ImagePlane[][] = [];
    for (let s = 0; s < opened[0].count; s++) {
      const planes: ImagePlane[] = [];
      for (const f of opened) {
        const c = await f.read(s);
        // Copied: read() may recycle its buffers.
        planes.push({ width: c.plane.width, height: c.plane.height, data: Float64Array.from(c.plane.data) });
      }
      stamps.push(planes);
    }
    return { name, stamps };
  } finally {
    await Promise.all(opened.map((f) => f.close()));
  }
}

export function readFixture(set: string): Promise<InputStamps> {
  return readSet(set, Object.fromEntries(['g', 'r', 'i'].map((b) => [b, join(FITS, `${set}_${b}.fits`)])));
}

/** The demo's stamps, as `bridge demo` writes them (GZIP_2 Stamps files), read back; one set per tract and patch. */
export async function readDemo(): Promise<InputStamps> {
  const root = await mkdtemp(join(tmpdir(), 'colour-demo-'));
  try {
    await writeDemoArtifacts(root);
    const stamps: ImagePlane[][] = [];
    for (const tract of DEMO_LAYOUT.tracts) {
      for (const patch of DEMO_LAYOUT.patches) {
        const base = join(root, DEMO_LAYOUT.run, DEMO_LAYOUT.datasetType, String(tract), String(patch));
        const files: Record<string, string> = {};
        for (const band of await readdir(base)) {
          const [file] = await readdir(join(base, band));
          files[band] = join(base, band, file);
        }
        stamps.push(...(await readSet('demo', files)).stamps);
      }
    }
    return { name: 'demo', stamps };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export interface SetFigures {
  name: string;
  stamps: number;
  failing: number;
  /** Worst case over the set's stamps. */
  skyMedian: number;
  spread: number;
  coreMaxLow: number;
  coreMaxHigh: number;
  coreSaturated: number;
}

export function measureSet(input: InputStamps, colour: ColourOptions): SetFigures {
  const figures = input.stamps.map((planes) => measure(planes, renderColour(planes, colour).raster));
  return {
    name: input.name,
    stamps: figures.length,
    failing: figures.filter((f) => !passes(f)).length,
    skyMedian: Math.max(...figures.map((f) => f.skyMedian)),
    spread: Math.max(...figures.map((f) => f.spread)),
    coreMaxLow: Math.min(...figures.map((f) => f.coreMax)),
    coreMaxHigh: Math.max(...figures.map((f) => f.coreMax)),
    coreSaturated: figures.filter((f) => f.coreSaturated).length,
  };
}

export function formatFigures(preset: string, f: SetFigures): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return `${preset.padEnd(10)} ${f.name.padEnd(15)} stamps ${String(f.stamps).padStart(3)}  failing ${String(f.failing).padStart(3)}  sky median <= ${pct(f.skyMedian).padStart(6)}  spread <= ${pct(f.spread).padStart(6)}  core max ${f.coreMaxLow}..${f.coreMaxHigh}  core saturated in ${f.coreSaturated}`;
}

// `npx tsx test/imaging/colour-measure.ts [preset ...]` prints the figures.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const presets = process.argv.slice(2).length ? process.argv.slice(2) : ['auto', 'sky-asinh'];
  const inputs = [await readDemo(), ...(await Promise.all(FIXTURE_SETS.map(readFixture)))];
  for (const preset of presets) for (const input of inputs) console.log(formatFigures(preset, measureSet(input, { preset } as ColourOptions)));
}
