import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertBands, type BandSource } from '../../src/imaging/convert-bands.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/imaging/convert.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { type FitsValue } from '../../src/imaging/fits/header.js';
import { concat, headerBlock } from '../support/fits-builder.js';
import { pythonWith } from '../support/python.js';

/**
 * Bytes after the last complete HDU: astropy reads such files (with a
 * warning) except where noted, and so must we, naming the file in the
 * warning. Band files are given as bytes with a name, as the service gives them.
 */
const FIX = join(import.meta.dirname, '../fixtures/fits');
const fixture = (file: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, file)));

/** Deterministic non-FITS bytes (no block of them starts a header). */
const garbage = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) % 251);

/** An IMAGE extension header (float32, width x height); `cards` extra cards make it longer. */
function extensionHeader(width: number, height: number, cards = 0): Uint8Array {
  const extra: [string, FitsValue][] = Array.from({ length: cards }, (_, k) => [`KEY${k}`, k]);
  return headerBlock([['XTENSION', 'IMAGE'], ['BITPIX', -32], ['NAXIS', 2], ['NAXIS1', width], ['NAXIS2', height], ['PCOUNT', 0], ['GCOUNT', 1], ['EXTNAME', 'EXTRA'], ...extra]);
}

async function convertWithTail(file: string, tail: Uint8Array, name = 'i-5f3a.fits') {
  const channels: BandSource[] = [{ band: 'i', bytes: concat([fixture(file), tail]), name }];
  const indices: number[] = [];
  const result = await convertBands({ channels, opts: DEFAULT_CONVERT_OPTIONS, workers: 0, onStamp: (s) => void indices.push(s.index) });
  return { ...result, indices };
}

describe('trailing bytes after the last HDU', () => {
  it('1234 bytes that are not FITS: every stamp converts and the warning names the file and the byte count', async () => {
    const r = await convertWithTail('stamps_i.fits', garbage(1234));
    expect([r.total, r.converted, r.failed]).toEqual([3, 3, []]);
    expect(r.warnings).toEqual(['i-5f3a.fits: ignored 1234 trailing bytes after the last HDU (not a FITS header)']);
  });

  it('zero padding, even more than a block of it, is ignored with a warning', async () => {
    const r = await convertWithTail('stamps_i.fits', new Uint8Array(5000));
    expect(r.converted).toBe(3);
    expect(r.warnings).toEqual(['i-5f3a.fits: ignored 5000 trailing bytes after the last HDU (padding)']);
  });

  it('whole blocks that are not a header are ignored too (astropy refuses these: "Header missing END card")', async () => {
    const r = await convertWithTail('stamps_i.fits', garbage(2 * 2880));
    expect(r.converted).toBe(3);
    expect(r.warnings).toEqual([`i-5f3a.fits: ignored ${2 * 2880} trailing bytes after the last HDU (not a FITS header)`]);
  });

  it('an extension header cut short (its block incomplete) is ignored, as astropy ignores it', async () => {
    const r = await convertWithTail('exposure_rot30_i.fits', extensionHeader(40, 30).subarray(0, 1000));
    expect([r.total, r.converted]).toEqual([1, 1]);
    expect(r.warnings).toEqual(['i-5f3a.fits: ignored 1000 trailing bytes after the last HDU (the start of an extension header, cut short: file truncated?)']);
  });

  it('an extension header cut at a block boundary before its END card is refused, as astropy refuses it', async () => {
    const bytes = concat([fixture('exposure_rot30_i.fits'), extensionHeader(40, 30, 60).subarray(0, 2880)]);
    const hdus = (await FitsFile.fromBytes(fixture('exposure_rot30_i.fits'))).hdus.length;
    await expect(FitsFile.fromBytes(bytes, 'i-5f3a.fits')).rejects.toThrow(`i-5f3a.fits, HDU ${hdus}: header is truncated or has no END card`);
  });

  it('a last extension whose data is cut short is listed (as astropy lists it); the image before it converts', async () => {
    const r = await convertWithTail('exposure_rot30_i.fits', concat([extensionHeader(40, 30), new Uint8Array(100)]));
    expect([r.total, r.converted]).toEqual([1, 1]);
    expect(r.warnings).toEqual([expect.stringMatching(/^i-5f3a\.fits: HDU \d+ is truncated: its header declares 4800 data bytes but only 100 are present/)]);
  });

  it('a Stamps file cut inside its last stamp: the earlier stamps convert, the cut one fails naming the file', async () => {
    const whole = fixture('stamps_i.fits');
    const image3 = (await FitsFile.fromBytes(whole)).find('IMAGE', 3)!;
    const cut = whole.subarray(0, image3.dataOffset + 1000);
    const channels: BandSource[] = [{ band: 'i', bytes: cut, name: 'i-5f3a.fits' }];
    const r = await convertBands({ channels, opts: DEFAULT_CONVERT_OPTIONS, workers: 0, onStamp: () => {} });
    expect([r.total, r.converted]).toEqual([3, 2]);
    expect(r.failed).toEqual([{ index: 2, error: expect.stringMatching(/^stamp 2: i-5f3a\.fits, HDU 7: data is truncated: its header declares 3100 data bytes but only 1000 are present/) }]);
    expect(r.warnings.join('\n')).toMatch(/i-5f3a\.fits: HDU 7 is truncated/);
  });

  it('a Stamps file cut inside its first extension header holds no stamp: refused as a file, saying it looks truncated', async () => {
    const cut = fixture('stamps_i.fits').subarray(0, 4000);
    const channels: BandSource[] = [{ band: 'i', bytes: cut, name: 'i-5f3a.fits' }];
    await expect(convertBands({ channels, opts: DEFAULT_CONVERT_OPTIONS, workers: 0, onStamp: () => {} })).rejects.toThrow(
      'i-5f3a.fits: no stamps: N_STAMPS says 3 but the file holds 0 IMAGE extensions; ignored 1120 trailing bytes after the last HDU (the start of an extension header, cut short: file truncated?)',
    );
  });

  it('a header claiming far more data than the file holds is refused when read, before anything that size is allocated', async () => {
    const huge = headerBlock([['XTENSION', 'IMAGE'], ['BITPIX', -64], ['NAXIS', 2], ['NAXIS1', 2 ** 20], ['NAXIS2', 2 ** 20], ['PCOUNT', 0], ['GCOUNT', 1]]);
    const f = await FitsFile.fromBytes(concat([fixture('exposure_rot30_i.fits'), huge, new Uint8Array(2880)]), 'i-5f3a.fits');
    const last = f.hdus.at(-1)!;
    expect(last.truncated).toBe(true);
    const before = process.memoryUsage().arrayBuffers;
    await expect(f.readData(last)).rejects.toThrow(/i-5f3a\.fits, HDU \d+: data is truncated: its header declares 8796093022208 data bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

const PYTHON = pythonWith(['astropy']);

const ASTROPY_HDUS = `
import io, json, sys, warnings
from astropy.io import fits
warnings.simplefilter('ignore')
out = []
for hexed in json.loads(sys.stdin.read()):
    try:
        with fits.open(io.BytesIO(bytes.fromhex(hexed))) as hdul:
            out.append(len(hdul))
    except Exception as e:
        out.append('refused')
print(json.dumps(out))
`;

describe.skipIf(!PYTHON)('trailing bytes: as many HDUs as astropy lists, refused where astropy refuses (live)', () => {
  it('the same answer for each kind of tail', async () => {
    const base = fixture('exposure_rot30_i.fits');
    const header = extensionHeader(40, 30);
    const tails: Record<string, Uint8Array> = {
      'non-FITS bytes': garbage(1234),
      'zeros': new Uint8Array(1234),
      'spaces': new Uint8Array(100).fill(0x20),
      'more than a block of non-FITS bytes': garbage(3000),
      'a header cut short': header.subarray(0, 1000),
      'a header cut at a block boundary': extensionHeader(40, 30, 60).subarray(0, 2880),
      'a header cut mid-block after a block': extensionHeader(40, 30, 60).subarray(0, 3000),
      'a header and part of its data': concat([header, new Uint8Array(100)]),
      'a header and no data': header,
      'a whole extension then a header cut short': concat([header, new Uint8Array(4800 + 960), header.subarray(0, 500)]),
    };
    const py = spawnSync(PYTHON!, ['-c', ASTROPY_HDUS], { input: JSON.stringify(Object.values(tails).map((t) => Buffer.from(concat([base, t])).toString('hex'))), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(py.status, py.stderr).toBe(0);
    const astropy = JSON.parse(py.stdout) as (number | 'refused')[];
    const ours = await Promise.all(
      Object.values(tails).map((t) =>
        FitsFile.fromBytes(concat([base, t]), 'x.fits').then(
          (f) => f.hdus.length,
          () => 'refused' as const,
        ),
      ),
    );
    expect(Object.fromEntries(Object.keys(tails).map((k, i) => [k, ours[i]]))).toEqual(Object.fromEntries(Object.keys(tails).map((k, i) => [k, astropy[i]])));
  });
});
