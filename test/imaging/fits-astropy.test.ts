import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { readImage } from '../../src/imaging/fits/image-reader.js';
import { FitsCutouts } from '../../src/imaging/cutouts/fits-cutouts.js';
import { pixelToSky, readWcs, scaleRotation } from '../../src/imaging/wcs.js';
import { sepArcsec } from '../support/sky.js';

/** Fixtures and the values astropy read from them (test/fixtures/make_fixtures.py). */
const DIR = join(import.meta.dirname, '../fixtures/fits');
interface Entry {
  file: string;
  hdu?: number;
  width?: number;
  height?: number;
  raw?: string;
  samples?: { pixel: [number, number]; world: [number, number] }[];
  pyavm_rotation?: number;
  stamps?: { ra: (number | null)[]; dec: (number | null)[]; n: number };
  cards?: [string, unknown][];
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Entry[];


describe('pixels equal what astropy reads', () => {
  for (const e of expected.filter((x) => x.raw)) {
    it(`${e.file} HDU ${e.hdu}`, async () => {
      const f = await FitsFile.openPath(join(DIR, e.file));
      try {
        const img = await readImage(f, f.hdus[e.hdu!]);
        expect([img.width, img.height]).toEqual([e.width, e.height]);
        const buf = readFileSync(join(DIR, e.raw!));
        const want = new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
        let mismatches = 0;
        let first = '';
        for (let i = 0; i < want.length; i++) {
          const a = img.data[i];
          const w = want[i];
          const same = Number.isNaN(w) ? Number.isNaN(a) : a === w;
          if (!same) {
            mismatches++;
            first ||= `pixel ${i}: ours ${a}, astropy ${w}`;
          }
        }
        expect(mismatches, first).toBe(0);
      } finally {
        await f.close();
      }
    });
  }
});

describe('WCS equals astropy (all_pix2world, SIP included)', () => {
  for (const e of expected.filter((x) => x.samples)) {
    it(`${e.file} HDU ${e.hdu}`, async () => {
      const f = await FitsFile.openPath(join(DIR, e.file));
      const wcs = readWcs(f.hdus[e.hdu!].header)!;
      await f.close();
      expect(wcs).toBeDefined();
      for (const s of e.samples!) {
        expect(sepArcsec(pixelToSky(wcs, s.pixel[0], s.pixel[1])!, s.world)).toBeLessThan(0.001);
      }
      // pyavm's own rotation is right below 90 degrees; ours must agree there.
      if (e.pyavm_rotation !== undefined && Math.abs(e.pyavm_rotation) < 89) {
        expect(scaleRotation(wcs.cd).rotation).toBeCloseTo(e.pyavm_rotation, 6);
      }
    });
  }
});

describe('Stamps positions and headers', () => {
  for (const e of expected.filter((x) => x.stamps)) {
    it(`${e.file}: stamps in EXTVER order with their RA_DEG/DEC_DEG`, async () => {
      const c = await FitsCutouts.open(join(DIR, e.file));
      try {
        expect(c.kind).toBe('stamps');
        expect(c.count).toBe(e.stamps!.n);
        expect(c.warnings).toEqual([]);
        const s = c.summary();
        s.forEach((stamp, i) => {
          expect(stamp.position!.ra).toBeCloseTo(e.stamps!.ra[i]!, 10);
          expect(stamp.position!.dec).toBeCloseTo(e.stamps!.dec[i]!, 10);
          expect(stamp.extver).toBe(i + 1);
        });
      } finally {
        await c.close();
      }
    });
  }

  it('header_cards.fits: every keyword and typed value as astropy parses it', async () => {
    const e = expected.find((x) => x.cards)!;
    const f = await FitsFile.openPath(join(DIR, e.file));
    const h = f.hdus[0].header;
    await f.close();
    for (const [key, value] of e.cards!) {
      expect([key, h.get(key)]).toEqual([key, value]);
    }
  });
});
