import { describe, expect, it } from 'vitest';
import pngjs from 'pngjs';
import { stripJpegCoordinates, stripPngCoordinates } from '../../src/imaging/png/strip-coordinates.js';
import { chunk, insertAfterIhdr, readChunks, textChunk, xmpChunk } from '../../src/imaging/png/png-chunks.js';
import { renderedStamps } from './helpers.js';

/** The strippers on their own: allowlists, so unknown metadata cannot slip through. */

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('stripPngCoordinates', () => {
  it('drops every text, XMP, EXIF, time and private chunk but Software; pixels and IDAT untouched', () => {
    const p = new pngjs.PNG({ width: 3, height: 2 });
    for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 37) % 256;
    const base = new Uint8Array(pngjs.PNG.sync.write(p));
    const enc = new TextEncoder();
    const png = insertAfterIhdr(base, [
      xmpChunk(enc.encode('<avm:Spatial.ReferenceValue>150 2</avm:Spatial.ReferenceValue>')),
      textChunk('Software', 'rsp-zooniverse-bridge 0.1.0'),
      textChunk('Comment', 'RA 150.1 Dec +2.2'),
      chunk('zTXt', enc.encode('Source\0\0compressed-ish')),
      chunk('eXIf', enc.encode('MM\0*GPS...')),
      chunk('tIME', Uint8Array.of(7, 234, 11, 25, 10, 0, 0)),
      chunk('prVt', enc.encode('ra=150.1&dec=2.2')),
      chunk('pHYs', Uint8Array.of(0, 0, 11, 19, 0, 0, 11, 19, 1)),
    ]);
    const out = stripPngCoordinates(png);
    expect(readChunks(out).map((c) => c.type)).toEqual(['IHDR', 'tEXt', 'pHYs', 'IDAT', 'IEND']);
    expect(latin1(out)).not.toMatch(/RA|Dec|Spatial|ra=|GPS|Source/);
    expect(latin1(out)).toContain('Software\0rsp-zooniverse-bridge 0.1.0');
    const a = pngjs.PNG.sync.read(Buffer.from(out));
    expect(Buffer.from(a.data).equals(Buffer.from(p.data))).toBe(true);
    // Stripping twice changes nothing more.
    expect(Buffer.from(stripPngCoordinates(out)).equals(Buffer.from(out))).toBe(true);
  });

  it('on real converter output: only IHDR, IDAT, Software and IEND remain', async () => {
    for (const { png } of await renderedStamps()) {
      const out = stripPngCoordinates(png);
      expect([...new Set(readChunks(out).map((c) => c.type))]).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
      expect(latin1(out)).not.toMatch(/Spatial|xmp|provenance|RA_DEG|\.fits/);
    }
  });

  it('refuses a damaged PNG instead of passing it on', async () => {
    const png = new Uint8Array((await renderedStamps())[0].png);
    png[40] ^= 0xff;
    expect(() => stripPngCoordinates(png)).toThrow(/bad CRC/);
    expect(() => stripPngCoordinates(png.subarray(0, 60))).toThrow();
    expect(() => stripPngCoordinates(Uint8Array.of(1, 2, 3))).toThrow(/not a PNG/);
  });
});

function seg(marker: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return Uint8Array.of(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
}

describe('stripJpegCoordinates', () => {
  const jfif = seg(0xe0, Uint8Array.of(0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0));
  const icc = seg(0xe2, 'ICC_PROFILE\0\x01\x01profile-bytes');
  const adobe = seg(0xee, 'Adobe\0\x64\0\0\0\0\x01');
  const dqt = seg(0xdb, new Uint8Array(65).fill(3));
  const sof = seg(0xc0, Uint8Array.of(8, 0, 2, 0, 3, 1, 1, 0x11, 0));
  // Scan data with a stuffed 0xFF00, a restart marker and EOI: copied verbatim.
  const scan = Uint8Array.of(...seg(0xda, Uint8Array.of(1, 1, 0, 0, 0x3f, 0)), 0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd9);
  const jpeg = Uint8Array.of(
    0xff, 0xd8,
    ...jfif,
    ...seg(0xe1, 'Exif\0\0MM GPSLatitude RA=150.1'),
    ...seg(0xe1, 'http://ns.adobe.com/xap/1.0/\0<avm:Spatial.ReferenceValue>150.1 2.2</avm:Spatial.ReferenceValue>'),
    ...icc,
    ...seg(0xed, 'Photoshop 3.0\0IPTC Dec +2.2'),
    ...seg(0xfe, 'ra=150.1 dec=2.2'),
    0xff, // a fill byte before the next marker
    ...adobe,
    ...dqt,
    ...sof,
    ...scan,
  );

  it('keeps JFIF, ICC, Adobe, tables and the scan; drops EXIF, XMP, IPTC and comments', () => {
    const out = stripJpegCoordinates(jpeg);
    expect(Buffer.from(out).equals(Buffer.from(Uint8Array.of(0xff, 0xd8, ...jfif, ...icc, ...adobe, ...dqt, ...sof, ...scan)))).toBe(true);
    expect(latin1(out)).not.toMatch(/RA=|Spatial|Dec|ra=|GPS/);
  });

  it('drops whatever trails EOI (an appended file could carry the position), and sees EOI past a table between progressive scans', () => {
    const trailer = new TextEncoder().encode('RA=150.1 DEC=2.2 appended after the image');
    const out = stripJpegCoordinates(Uint8Array.of(...jpeg, ...trailer));
    expect(Buffer.from(out).equals(Buffer.from(Uint8Array.of(0xff, 0xd8, ...jfif, ...icc, ...adobe, ...dqt, ...sof, ...scan)))).toBe(true);
    expect(latin1(out)).not.toMatch(/RA=/);
    // A second scan after a Huffman table whose payload happens to hold 0xFF 0xD9: not the end of the image.
    const dht = seg(0xc4, Uint8Array.of(0x00, 0xff, 0xd9, 1, 2, 3));
    const scan2 = Uint8Array.of(...seg(0xda, Uint8Array.of(1, 1, 0, 0, 0x3f, 0)), 0x77, 0xff, 0xd9);
    const progressive = Uint8Array.of(0xff, 0xd8, ...jfif, ...dqt, ...sof, ...scan.subarray(0, scan.length - 2), ...dht, ...scan2, ...trailer);
    expect(Buffer.from(stripJpegCoordinates(progressive)).equals(Buffer.from(progressive.subarray(0, progressive.length - trailer.length)))).toBe(true);
  });

  it('refuses what is not a whole JPEG', () => {
    expect(() => stripJpegCoordinates(Uint8Array.of(0x89, 0x50, 0x4e, 0x47))).toThrow(/not a JPEG/);
    expect(() => stripJpegCoordinates(jpeg.subarray(0, 30))).toThrow(/overruns|ends/);
    expect(() => stripJpegCoordinates(Uint8Array.of(0xff, 0xd8, ...jfif))).toThrow(/no SOS/);
  });
});
