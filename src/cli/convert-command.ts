import { Command, InvalidArgumentError, Option } from 'commander';
import { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET } from '../imaging/colour/preset-names.js';
import type { ConvertArgs } from './convert-run.js';

/*
 * The definition of `bridge convert` only: its options, their checks and its
 * help. The conversion itself (convert-run.ts) is imported when the command
 * runs, so `bridge --help` does not load the converter.
 */

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
    .action(async (o: ConvertArgs) => {
      const { runConvert } = await import('./convert-run.js');
      await runConvert(o);
    });
}
