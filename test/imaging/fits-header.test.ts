import { describe, expect, it } from 'vitest';
import { parseCard, parseHeader, formatCard } from '../../src/imaging/fits/header.js';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { readImage } from '../../src/imaging/fits/image-reader.js';
import { concat, float32Image, headerBlock, padData } from '../support/fits-builder.js';

const card = (s: string) => s.padEnd(80);

describe('header cards', () => {
  it('types values: strings with quotes, logicals, ints, floats with D exponents, complex, undefined', () => {
    expect(parseCard(card("OBJECT  = 'O''Brien / not a comment' / real comment"))).toEqual({
      key: 'OBJECT',
      value: "O'Brien / not a comment",
      comment: 'real comment',
    });
    expect(parseCard(card('SIMPLE  =                    T')).value).toBe(true);
    expect(parseCard(card('NAXIS1  =                  -42 / width')).value).toBe(-42);
    expect(parseCard(card('CD1_1   = -5.5555555555556D-05')).value).toBeCloseTo(-5.5555555555556e-5, 18);
    expect(parseCard(card('CPX     = (1.5, -2)')).value).toEqual([1.5, -2]);
    expect(parseCard(card('UNDEF   =')).value).toBeNull();
    expect(parseCard(card("PAD     = '  lead  '")).value).toBe('  lead');
  });

  it('reads HIERARCH keys and commentary cards', () => {
    expect(parseCard(card('HIERARCH HAS_VARIANCE = T'))).toEqual({ key: 'HAS_VARIANCE', value: true });
    expect(parseCard(card("HIERARCH LONG KEY WITH SPACES = 'x' / c")).key).toBe('LONG KEY WITH SPACES');
    expect(parseCard(card('HISTORY made by a test')).commentary).toBe(true);
  });

  it('joins CONTINUE long strings and keeps repeated keywords in order', () => {
    const cards = [
      "LONGSTR = 'first part &'",
      "CONTINUE  'second part&'",
      "CONTINUE  ' end'",
      'RA_DEG  =                 10.5',
      'RA_DEG  =                  NaN',
      'RA_DEG  =                359.9',
      'END',
    ];
    const bytes = new Uint8Array(2880).fill(0x20);
    cards.forEach((c, i) => [...c].forEach((ch, j) => (bytes[i * 80 + j] = ch.charCodeAt(0))));
    const h = parseHeader(bytes)!.header;
    expect(h.get('LONGSTR')).toBe('first part second part end');
    expect(h.getAll('RA_DEG')).toEqual([10.5, NaN, 359.9]);
    expect(h.get('RA_DEG')).toBe(10.5);
  });

  it('round-trips numbers through formatCard exactly', () => {
    for (const x of [-5.555555555555556e-5, 0.1, 1e-300, 123456789.123456789, -0.0000001234]) {
      expect(parseCard(formatCard('X', x)).value).toBe(x);
    }
  });
});

describe('FITS structure', () => {
  it('reads a float32 image with NaN as undefined', async () => {
    const f = await FitsFile.fromBytes(float32Image(3, 2, (i) => (i === 4 ? NaN : i * 1.5)), 'f.fits');
    const img = await readImage(f, f.hdus[0]);
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(Array.from(img.data)).toEqual([0, 1.5, 3, 4.5, NaN, 7.5]);
  });

  it('finds extensions by EXTNAME/EXTVER and reads one without the others', async () => {
    const ext = (ver: number, v: number) => {
      const d = new Uint8Array(4 * 4);
      new DataView(d.buffer).setFloat32(0, v);
      return concat([
        headerBlock([['XTENSION', 'IMAGE'], ['BITPIX', -32], ['NAXIS', 2], ['NAXIS1', 2], ['NAXIS2', 2], ['PCOUNT', 0], ['GCOUNT', 1], ['EXTNAME', 'IMAGE'], ['EXTVER', ver]]),
        padData(d),
      ]);
    };
    const bytes = concat([headerBlock([['SIMPLE', true], ['BITPIX', 8], ['NAXIS', 0]]), ext(1, 11), ext(2, 22)]);
    const f = await FitsFile.fromBytes(bytes);
    const hdu = f.find('image', 2)!;
    expect(hdu.index).toBe(2);
    expect((await readImage(f, hdu)).data[0]).toBe(22);
  });

  it('refuses a header that claims more data than the file holds, before allocating', async () => {
    const bytes = headerBlock([['SIMPLE', true], ['BITPIX', -64], ['NAXIS', 2], ['NAXIS1', 100000], ['NAXIS2', 100000]]);
    await expect(FitsFile.fromBytes(bytes, 'liar.fits')).rejects.toThrow(/liar\.fits, HDU 0: header declares 80000000000 data bytes but only 0 are present/);
  });

  it('refuses images over the pixel cap with a clear error', async () => {
    const f = await FitsFile.fromBytes(float32Image(64, 64, () => 1), 'big.fits');
    await expect(readImage(f, f.hdus[0], { maxPixels: 1000 })).rejects.toThrow(/64 x 64 pixels exceeds the limit of 1000/);
  });

  it('names the file for garbage and missing END', async () => {
    await expect(FitsFile.fromBytes(new TextEncoder().encode('hello world'.padEnd(2880)), 'x.png')).rejects.toThrow(/x\.png, HDU 0: not a FITS header/);
    const noEnd = new Uint8Array(2880).fill(0x20);
    [...'SIMPLE  =                    T'].forEach((c, i) => (noEnd[i] = c.charCodeAt(0)));
    await expect(FitsFile.fromBytes(noEnd, 'n.fits')).rejects.toThrow(/no END card/);
  });
});
