import { ImagingError } from '../types.js';
import { concatBytes } from '../bytes.js';
import { chunk, readChunks } from './png-chunks.js';

/**
 * Removes every piece of metadata that could place an image on the sky, for
 * images the data-rights policy publishes without coordinates. The pixels
 * are not touched (IDAT, or the JPEG entropy-coded data, are copied byte for
 * byte), so what volunteers see is what the reviewers approved.
 *
 * Both filters are allowlists, not blocklists: the converter writes AVM XMP
 * (iTXt), a `Source` tEXt naming the input files and a `bridge:provenance`
 * tEXt (file names, HDUs, resize factors), and PI-supplied renderings can
 * carry EXIF, XMP or comments of any kind. Anything not known to be harmless
 * goes, whatever its name, so a new chunk written tomorrow cannot leak.
 */

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Chunks needed to decode and display the image correctly, and nothing else. */
const PNG_KEEP = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'bKGD', 'pHYs']);
/** tEXt keywords kept: the software that made the file says nothing about where it points. */
const PNG_KEEP_TEXT = new Set(['Software']);

export function stripPngCoordinates(png: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [SIGNATURE];
  let sawIend = false;
  for (const c of readChunks(png)) {
    if (c.type === 'IEND') sawIend = true;
    if (PNG_KEEP.has(c.type) || (c.type === 'tEXt' && PNG_KEEP_TEXT.has(textKeyword(c.data)))) kept.push(chunk(c.type, c.data));
  }
  if (!sawIend) throw new ImagingError('PNG has no IEND chunk (truncated file?)');
  return concatBytes(kept);
}

function textKeyword(data: Uint8Array): string {
  const nul = data.indexOf(0);
  return String.fromCharCode(...data.subarray(0, nul < 0 ? data.length : nul));
}

/*
 * JPEG: segments before the first SOS. Kept: APP0 (JFIF/JFXX), APP2 (ICC
 * profile, needed for colour), APP14 (Adobe: tells decoders the colour
 * transform), and every non-APP marker (tables, frame header). Dropped:
 * APP1 (EXIF, XMP and so AVM), APP13 (IPTC), the other APPn and COM.
 */
const JPEG_KEEP_APP = new Set([0xe0, 0xe2, 0xee]);

export function stripJpegCoordinates(jpeg: Uint8Array): Uint8Array {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new ImagingError('not a JPEG (no SOI marker)');
  const out: Uint8Array[] = [jpeg.subarray(0, 2)];
  let at = 2;
  for (;;) {
    if (at >= jpeg.length) throw new ImagingError('JPEG ends before its image data (no SOS marker)');
    if (jpeg[at] !== 0xff) throw new ImagingError(`JPEG marker expected at byte ${at}`);
    // Fill bytes (0xFF runs) may precede any marker.
    let m = at + 1;
    while (m < jpeg.length && jpeg[m] === 0xff) m++;
    if (m >= jpeg.length) throw new ImagingError('JPEG ends inside a marker');
    const marker = jpeg[m];
    // Standalone markers (TEM, RSTn) have no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      out.push(Uint8Array.of(0xff, marker));
      at = m + 1;
      continue;
    }
    if (marker === 0xd9) throw new ImagingError('JPEG ends (EOI) before its image data');
    if (m + 2 >= jpeg.length) throw new ImagingError('JPEG ends inside a segment header');
    const len = (jpeg[m + 1] << 8) | jpeg[m + 2];
    if (len < 2 || m + 1 + len > jpeg.length) throw new ImagingError(`JPEG segment 0xFF${marker.toString(16).toUpperCase()} overruns the file`);
    const end = m + 1 + len;
    if (marker === 0xda) {
      // SOS: the scans are copied as they are (later scans of progressive files
      // included) up to and including EOI; whatever follows EOI is not part of
      // the image and could carry anything (an appended file, metadata), so it goes.
      out.push(Uint8Array.of(0xff), jpeg.subarray(m, endOfImage(jpeg, end)));
      return concatBytes(out);
    }
    const isApp = marker >= 0xe0 && marker <= 0xef;
    const drop = marker === 0xfe || (isApp && !JPEG_KEEP_APP.has(marker));
    if (!drop) out.push(Uint8Array.of(0xff), jpeg.subarray(m, end));
    at = end;
  }
}

/**
 * The offset just past EOI, scanning from the first entropy-coded byte. In
 * scan data 0xFF is followed by 0x00 (a stuffed byte), a restart marker or
 * more fill; any other marker is a segment between scans (tables, the next
 * SOS), skipped by its length so its payload is never mistaken for EOI. A
 * file cut off before EOI keeps everything it has.
 */
function endOfImage(jpeg: Uint8Array, from: number): number {
  let i = from;
  while (i + 1 < jpeg.length) {
    if (jpeg[i] !== 0xff) {
      i++;
      continue;
    }
    const next = jpeg[i + 1];
    if (next === 0x00 || next === 0xff || (next >= 0xd0 && next <= 0xd7)) {
      i += next === 0xff ? 1 : 2;
      continue;
    }
    if (next === 0xd9) return i + 2;
    if (i + 3 >= jpeg.length) break;
    const len = (jpeg[i + 2] << 8) | jpeg[i + 3];
    if (len < 2) throw new ImagingError(`JPEG segment 0xFF${next.toString(16).toUpperCase()} at byte ${i} has a bad length`);
    i += 2 + len;
  }
  return jpeg.length;
}

export type ImageFormat = 'png' | 'jpeg';

export function stripCoordinates(bytes: Uint8Array, format: ImageFormat): Uint8Array {
  return format === 'png' ? stripPngCoordinates(bytes) : stripJpegCoordinates(bytes);
}
