import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertSet } from '../../src/imaging/convert-set.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { pythonWith } from '../support/python.js';
import { sepArcsec } from '../support/sky.js';

/**
 * The independent check: pyavm (what WorldWide Telescope and aplpy use) reads
 * our PNGs and its WCS must give astropy's coordinates. Runs only where
 * Debian's python3-pyavm and python3-astropy are installed.
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
const PYTHON = pythonWith(['pyavm', 'astropy']);

const READ = `
import json, sys, warnings
warnings.simplefilter('ignore')
from pyavm import AVM
from astropy.io import fits
from astropy.wcs import WCS
out = []
for path, pts in json.loads(sys.stdin.read()):
    avm = AVM.from_image(path)
    w = avm.to_wcs()
    world = w.all_pix2world(pts, 1)
    # pyavm 0.9's to_wcs(use_full_header=True) fails on str headers, so the
    # text pyavm extracted is handed to astropy directly.
    full = WCS(fits.Header.fromstring(avm.Spatial.FITSheader, sep='\\n')) if avm.Spatial.FITSheader else None
    out.append({'quality': avm.Spatial.Quality, 'world': world.tolist(),
                'full': full.all_pix2world(pts, 1).tolist() if full is not None else None})
print(json.dumps(out))
`;


describe.skipIf(!PYTHON)('pyavm reads back the true WCS from our PNGs', () => {
  const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { file: string; hdu?: number; samples?: { pixel: number[]; world: number[] }[] }[];

  for (const [file, band] of [
    ['exposure_rot30_i.fits', 'i'],
    ['exposure_rot120.fits', 'r'],
    ['exposure_pc.fits', 'r'],
    ['exposure_sip.fits', 'r'],
    ['exposure_flipped.fits', 'r'],
  ] as const) {
    it(`${file}: pyavm's WCS matches astropy's to < 0.01 arcsec (SIP via Spatial.FITSheader, flipped parity mirrored)`, async () => {
      const out = await mkdtemp(join(tmpdir(), 'pyavm-'));
      try {
        const r = await convertSet({ channels: [{ band, path: join(FIX, file) }], outDir: out, opts: DEFAULT_CONVERT_OPTIONS, workers: 0 });
        expect(r.failed).toEqual([]);
        const e = expected.find((x) => x.file === file && x.samples)!;
        // East-right sources are mirrored into standard parity: PNG x = width + 1 - FITS x.
        const flipped = file.includes('flipped');
        const pts = e.samples!.map((s) => (flipped ? [64 + 1 - s.pixel[0], s.pixel[1]] : s.pixel));
        const py = spawnSync(PYTHON!, ['-c', READ], { input: JSON.stringify([[join(out, 'stamp-00000.png'), pts]]), encoding: 'utf8' });
        expect(py.status, py.stderr).toBe(0);
        // pyavm prints the packet it found; our JSON is the last line.
        const [got] = JSON.parse(py.stdout.trim().split('\n').pop()!) as { quality: string; world: number[][]; full: number[][] }[];
        expect(got.quality).toBe('Full');
        const sip = file.includes('sip');
        e.samples!.forEach((s, k) => {
          // Scale + Rotation cannot carry SIP; the full header copy does.
          if (!sip) expect(sepArcsec(got.world[k], s.world)).toBeLessThan(0.01);
          expect(sepArcsec(got.full[k], s.world)).toBeLessThan(0.01);
        });
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  }
});
