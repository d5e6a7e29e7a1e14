import { describe, expect, it } from 'vitest';
import { pixelToSky, positionWcs, readWcs, resizeWcs, scaleRotation, type CelestialWcs } from '../../src/imaging/wcs.js';
import { avmXmp, parseAvmXmp } from '../../src/imaging/png/avm.js';
import { encodePng } from '../../src/imaging/png/png-writer.js';
import { readChunks, readTextChunks, readXmp } from '../../src/imaging/png/png-chunks.js';
import { Header, parseCard } from '../../src/imaging/fits/header.js';
import pngjs from 'pngjs';
import { sepArcsec } from '../support/sky.js';
import { wcsFromAvm } from '../support/avm.js';

const ARCSEC = 1 / 3600;

function rotatedCd(rotDeg: number, scaleDeg: number, parity: 1 | -1 = -1): CelestialWcs['cd'] {
  const r = (rotDeg * Math.PI) / 180;
  const s1 = parity * scaleDeg;
  return [
    [s1 * Math.cos(r), -scaleDeg * Math.sin(r)],
    [s1 * Math.sin(r), scaleDeg * Math.cos(r)],
  ];
}


describe('scale and rotation from a CD matrix', () => {
  for (const rot of [0, 30, 89, 91, 120, 179, -45, -150]) {
    it(`recovers a ${rot} degree rotation with standard parity`, () => {
      const sr = scaleRotation(rotatedCd(rot, 0.2 * ARCSEC));
      expect(sr.scale[0]).toBeCloseTo(-0.2 * ARCSEC, 15);
      expect(sr.scale[1]).toBeCloseTo(0.2 * ARCSEC, 15);
      expect(sr.rotation).toBeCloseTo(rot, 9);
      expect(sr.skew).toBeLessThan(1e-9);
    });
  }
});

describe('AVM round trip (our own reader, no Python)', () => {
  for (const rot of [0, 30, 120, -150]) {
    it(`WCS read back from the PNG equals the source to < 0.01 arcsec (rotation ${rot})`, () => {
      const wcs: CelestialWcs = { lonType: 'RA--', latType: 'DEC-', projection: 'TAN', crval: [359.9995, -30.1], crpix: [20.5, 12.25], cd: rotatedCd(rot, 0.2 * ARCSEC), radesys: 'ICRS' };
      const raster = { width: 41, height: 24, channels: 3 as const, data: new Uint8Array(41 * 24 * 3) };
      const png = encodePng(raster, { level: 6, maxBytes: 1e6, spatial: { wcs, width: 41, height: 24, quality: 'Full' }, text: { Software: 'test' } });
      const chunks = readChunks(png);
      expect(chunks[0].type).toBe('IHDR');
      expect(chunks[1].type).toBe('iTXt');
      // pyavm reads the packet at a fixed offset after the keyword.
      expect(Buffer.from(chunks[1].data.subarray(0, 22)).toString('latin1')).toBe('XML:com.adobe.xmp\0\0\0\0\0');
      const tags = parseAvmXmp(readXmp(png)!);
      expect(tags['Spatial.Quality']).toBe('Full');
      expect(tags['Spatial.CoordinateFrame']).toBe('ICRS');
      expect(tags['Spatial.ReferenceDimension']).toEqual(['41.0', '24.0']);
      expect(Number((tags['Spatial.Scale'] as string[])[0])).toBeLessThan(0);
      const back = wcsFromAvm(tags);
      for (const [x, y] of [[1, 1], [41, 1], [1, 24], [41, 24], [21, 12.5]]) {
        expect(sepArcsec(pixelToSky(wcs, x, y)!, pixelToSky(back, x, y)!)).toBeLessThan(0.01);
      }
      // The FITS header copy keeps the CD matrix exactly.
      const fitsHeader = new Header((tags['Spatial.FITSheader'] as string).split('\n').map(parseCard));
      const again = readWcs(fitsHeader)!;
      expect(again.cd.flat().map((x) => x + 0)).toEqual(wcs.cd.flat().map((x) => x + 0));
      expect(again.crval).toEqual(wcs.crval);
      expect(readTextChunks(png).Software).toBe('test');
    });
  }

  it('writes no spatial tags when nothing is known', () => {
    expect(avmXmp(undefined)).toBeUndefined();
    const png = encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }, { level: 1, maxBytes: 1e6 });
    expect(readXmp(png)).toBeNull();
  });

  it('position-only stamps: Quality Position, reference pixel at the centre, north up', () => {
    const wcs = positionWcs(0.0004, -29.9, 31, 25, 0.2);
    const tags = parseAvmXmp(new TextDecoder().decode(avmXmp({ wcs, width: 31, height: 25, quality: 'Position' })!));
    expect(tags['Spatial.Quality']).toBe('Position');
    expect((tags['Spatial.ReferencePixel'] as string[]).map(Number)).toEqual([16, 13]);
    expect(Number(tags['Spatial.Rotation'])).toBe(0);
    expect(sepArcsec(pixelToSky(wcs, 16, 13)!, [0.0004, -29.9])).toBeLessThan(1e-6);
    // north up: moving up in y increases Dec
    expect(pixelToSky(wcs, 16, 20)![1]).toBeGreaterThan(-29.9);
  });
});

describe('resizing keeps pixel centres on the sky', () => {
  it('CRPIX\' = (CRPIX - 0.5) f + 0.5 and scale / f', () => {
    const wcs: CelestialWcs = { lonType: 'RA--', latType: 'DEC-', projection: 'TAN', crval: [150, 2.2], crpix: [512.5, 512.5], cd: rotatedCd(30, 0.2 * ARCSEC) };
    const f = 424 / 1024;
    const small = resizeWcs(wcs, f);
    expect(small.crpix[0]).toBeCloseTo((512.5 - 0.5) * f + 0.5, 12);
    expect(scaleRotation(small.cd).scale[1]).toBeCloseTo((0.2 * ARCSEC) / f, 15);
    // The outer edge of the image (pixel edge 0.5 and 1024.5) maps to the same sky.
    expect(sepArcsec(pixelToSky(wcs, 0.5, 0.5)!, pixelToSky(small, 0.5, 0.5)!)).toBeLessThan(1e-6);
    expect(sepArcsec(pixelToSky(wcs, 1024.5, 1024.5)!, pixelToSky(small, 424.5, 424.5)!)).toBeLessThan(1e-6);
  });
});

describe('PNG orientation and limits', () => {
  it('puts FITS row 0 at the bottom of the PNG', () => {
    // 1x2 grey: FITS row 0 = 10, row 1 = 200
    const png = encodePng({ width: 1, height: 2, channels: 1, data: Uint8Array.from([10, 200]) }, { level: 6, maxBytes: 1e6 });
    const decoded = pngjs.PNG.sync.read(Buffer.from(png));
    expect(decoded.data[0]).toBe(200); // top row
    expect(decoded.data[4]).toBe(10); // bottom row
  });

  it('refuses a PNG over the size limit with a message saying what to do', () => {
    const data = new Uint8Array(300 * 300 * 3).map((_, i) => (i * 7919) % 251);
    expect(() => encodePng({ width: 300, height: 300, channels: 3, data }, { level: 0, maxBytes: 100_000 })).toThrow(/over the 100000-byte limit; use --max-side/);
  });
});
