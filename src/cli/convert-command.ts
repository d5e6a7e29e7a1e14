import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { convertSet, type ConvertSetResult } from '../imaging/convert-set.js';
import { convertZip } from '../imaging/convert-zip.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../imaging/convert.js';
import { defaultChannelOrder, parseRgbMapping } from '../imaging/colour/bands.js';
import { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET, type ColourOptions, type ColourPreset } from '../imaging/colour/presets.js';
import { progressBar } from './progress.js';
import { EXIT, UsageError } from './exit-codes.js';

function number(name: string, check: (x: number) => boolean, rule: string) {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || !check(x)) throw new InvalidArgumentError(`${name} ${rule}`);
    return x;
  };
}

function bandArg(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`expected BAND=FILE, got "${v}"`);
  if (prev[m[1]]) throw new InvalidArgumentError(`band ${m[1]} given twice`);
  return { ...prev, [m[1]]: m[2] };
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('Convert FITS cutouts (one file per band) into colour PNGs with AVM sky coordinates')
    .option('--band <band=file>', 'a band and its FITS file; repeat per band', bandArg)
    .option('--zip <file>', 'a ZIP of PNG/JPEG renderings (Butler formatter output) instead of FITS bands')
    .requiredOption('--out <dir>', 'output directory (PNG files and stamps.jsonl)')
    .option('--rgb <bands>', 'bands for R,G,B, e.g. i,r,g (default: reddest first)')
    .addOption(new Option('--preset <name>', `colour mapping (default: ${DEFAULT_COLOUR_PRESET})`).choices([...COLOUR_PRESETS]))
    .option('--stretch <s>', 'Lupton stretch (selects the lupton preset)', number('--stretch', (x) => x > 0, 'must be > 0'))
    .option('--q <q>', 'Lupton softening Q (selects the lupton preset)', number('--q', (x) => x >= 0, 'must be >= 0'))
    .option('--minimum <m>', 'Lupton minimum, one value or three comma-separated (selects the lupton preset)', (v: string) => {
      const parts = v.split(',').map(Number);
      if (!(parts.length === 1 || parts.length === 3) || parts.some((x) => !Number.isFinite(x))) {
        throw new InvalidArgumentError('--minimum takes one number or three comma-separated numbers');
      }
      return parts;
    })
    .option('--max-side <n>', 'shrink stamps whose longer side exceeds n pixels', number('--max-side', (x) => Number.isInteger(x) && x >= 8, 'must be an integer >= 8'))
    .option('--level <l>', 'zlib level 0-9', number('--level', (x) => Number.isInteger(x) && x >= 0 && x <= 9, 'must be an integer 0-9'), 6)
    .option('--max-bytes <n>', 'largest PNG allowed', number('--max-bytes', (x) => Number.isInteger(x) && x > 0, 'must be a positive integer'), 1_000_000)
    .option('--pixel-scale <arcsec>', 'pixel scale for stamps with a position but no WCS', number('--pixel-scale', (x) => x > 0, 'must be > 0'), 0.2)
    .option('--frames', 'also write each band alone as a grey PNG (stamp-NNNNN-BAND.png), for flipbook subjects')
    .option('--workers <n>', 'worker threads (default: all cores)', number('--workers', (x) => Number.isInteger(x) && x >= 0, 'must be an integer >= 0'))
    .action(async (o) => {
      if (!o.band === !o.zip) throw new UsageError('give either --band BAND=FILE (repeatable) or --zip FILE');
      if (o.zip && o.frames) throw new UsageError('--frames needs FITS bands (--band); a ZIP holds finished renderings');
      if (o.zip) {
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
      const result = await convertSet({
        channels: order.map((band) => ({ band, path: bands[band] })),
        outDir,
        opts,
        workers: o.workers,
        onProgress: progressBar('converting'),
      });
      report(result, outDir);
    });
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
