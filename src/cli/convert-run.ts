import { resolve } from 'node:path';
import type { ConvertSetResult } from '../imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../imaging/convert.js';
import { defaultChannelOrder, parseRgbMapping } from '../imaging/colour/bands.js';
import { DEFAULT_COLOUR_PRESET, type ColourOptions, type ColourPreset } from '../imaging/colour/presets.js';
import { progressBar } from './progress.js';
import { EXIT, UsageError } from './exit-codes.js';

/** What convert-command.ts parsed from the command line. */
export interface ConvertArgs {
  band?: Record<string, string>;
  zip?: string;
  out: string;
  rgb?: string;
  preset?: ColourPreset;
  stretch?: number;
  q?: number;
  minimum?: number[];
  maxSide?: number;
  level: number;
  maxBytes: number;
  pixelScale: number;
  frames?: boolean;
  workers?: number;
}

/**
 * `bridge convert`'s work, loaded only when the command runs. The ZIP and
 * the FITS paths each import their own converter, so a FITS conversion does
 * not load the ZIP reader and the reverse.
 */
export async function runConvert(o: ConvertArgs): Promise<void> {
  if (!o.band === !o.zip) throw new UsageError('give either --band BAND=FILE (repeatable) or --zip FILE');
  if (o.zip && o.frames) throw new UsageError('--frames needs FITS bands (--band); a ZIP holds finished renderings');
  if (o.zip) {
    const { convertZip } = await import('../imaging/convert-zip.js');
    const result = await convertZip(o.zip, resolve(o.out), { maxSide: o.maxSide, level: o.level, maxBytes: o.maxBytes }, progressBar('copying'));
    return report(result, resolve(o.out));
  }
  const bands = o.band as Record<string, string>;
  const names = Object.keys(bands);
  const order = o.rgb ? parseRgbMapping(o.rgb, names) : defaultChannelOrder(names);
  const explicit = o.stretch !== undefined || o.q !== undefined || o.minimum !== undefined;
  if (explicit && o.preset && o.preset !== 'lupton') {
    throw new UsageError(`--stretch/--q/--minimum select the lupton mapping; they cannot be combined with --preset ${o.preset}`);
  }
  const preset: ColourPreset = explicit ? 'lupton' : (o.preset ?? DEFAULT_COLOUR_PRESET);
  const colour: ColourOptions = { preset };
  if (o.stretch !== undefined) colour.stretch = o.stretch;
  if (o.q !== undefined) colour.Q = o.q;
  if (o.minimum !== undefined) colour.minimum = o.minimum.length === 1 ? o.minimum[0] : (o.minimum as [number, number, number]);
  const opts: ConvertOptions = {
    ...DEFAULT_CONVERT_OPTIONS,
    colour,
    level: o.level,
    maxBytes: o.maxBytes,
    pixelScaleArcsec: o.pixelScale,
  };
  if (o.maxSide) opts.maxSide = o.maxSide;
  if (o.frames) opts.frames = true;
  const outDir = resolve(o.out);
  const { convertSet } = await import('../imaging/convert-set.js');
  const result = await convertSet({
    channels: order.map((band) => ({ band, path: bands[band] })),
    outDir,
    opts,
    workers: o.workers,
    onProgress: progressBar('converting'),
  });
  report(result, outDir);
}

function report(result: ConvertSetResult, outDir: string): void {
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const f of result.failed) process.stderr.write(`error: stamp ${f.index}: ${f.error}\n`);
  const summary = {
    out: outDir,
    total: result.total,
    converted: result.converted,
    failed: result.failed.length,
    ...(result.frames !== undefined ? { frames: result.frames } : {}),
  };
  if (process.stdout.isTTY) {
    const frames = result.frames !== undefined ? `, with ${result.frames} per-band frames` : '';
    process.stdout.write(`${result.converted} of ${result.total} stamps converted into ${outDir}${frames} (stamps.jsonl lists them)\n`);
  } else {
    process.stdout.write(JSON.stringify(summary) + '\n');
  }
  process.exitCode = result.failed.length === 0 ? EXIT.ok : result.converted > 0 ? EXIT.partial : EXIT.failed;
}
