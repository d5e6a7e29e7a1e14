import { scaleRotation, wcsHeaderCards, type CelestialWcs } from '../wcs.js';

/**
 * AVM 1.2 spatial metadata as an XMP packet, in the form pyavm (and through
 * it WorldWide Telescope and aplpy) reads: one rdf:Description whose avm:
 * elements carry plain text or an rdf:Seq of rdf:li.
 */

export const AVM_NS = 'http://www.communicatingastronomy.org/avm/1.0/';
export type SpatialQuality = 'Full' | 'Position';

export interface AvmSpatial {
  wcs: CelestialWcs;
  width: number;
  height: number;
  quality: SpatialQuality;
  notes?: string;
}

const FRAMES: Record<string, string> = { GLON: 'GAL', ELON: 'ECL', SLON: 'SGAL' };

export function coordinateFrame(w: CelestialWcs): string {
  if (w.lonType !== 'RA--') return FRAMES[w.lonType] ?? 'ICRS';
  if (w.radesys === 'FK5' || w.radesys === 'FK4' || w.radesys === 'ICRS') return w.radesys;
  // FITS: no RADESYS but an EQUINOX means FK4 before 1984, FK5 after; neither means ICRS.
  if (w.equinox !== undefined) return w.equinox < 1984 ? 'FK4' : 'FK5';
  return 'ICRS';
}

function num(x: number): string {
  // 17 significant digits: the WCS read back must equal the source to far below 0.01".
  return Number.isInteger(x) ? x.toFixed(1) : x.toPrecision(17);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function seq(tag: string, values: (number | string)[]): string {
  const items = values.map((v) => `<rdf:li>${typeof v === 'number' ? num(v) : escapeXml(v)}</rdf:li>`).join('');
  return `   <avm:${tag}><rdf:Seq>${items}</rdf:Seq></avm:${tag}>\n`;
}

function text(tag: string, value: string | number): string {
  return `   <avm:${tag}>${typeof value === 'number' ? num(value) : escapeXml(value)}</avm:${tag}>\n`;
}

/** Returns the XMP packet (UTF-8 bytes) or undefined when there is nothing spatial to say. */
export function avmXmp(spatial: AvmSpatial | undefined): Uint8Array | undefined {
  if (!spatial) return undefined;
  const { wcs, width, height, quality } = spatial;
  const sr = scaleRotation(wcs.cd);
  const frame = coordinateFrame(wcs);
  let body = text('MetadataVersion', '1.2');
  body += text('Spatial.CoordinateFrame', frame);
  if (frame === 'FK4') body += text('Spatial.Equinox', 'B1950');
  else if (frame === 'FK5' || frame === 'ICRS') body += text('Spatial.Equinox', 'J2000');
  body += seq('Spatial.ReferenceValue', wcs.crval);
  body += seq('Spatial.ReferenceDimension', [width, height]);
  body += seq('Spatial.ReferencePixel', wcs.crpix);
  body += seq('Spatial.Scale', sr.scale);
  body += text('Spatial.Rotation', sr.rotation);
  body += text('Spatial.CoordsystemProjection', wcs.projection);
  body += text('Spatial.Quality', quality);
  if (spatial.notes) body += text('Spatial.Notes', spatial.notes);
  body += text('Spatial.FITSheader', wcsHeaderCards(wcs, width, height).join('\n'));
  const xml =
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n' +
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n' +
    `  <rdf:Description rdf:about="" xmlns:avm="${AVM_NS}">\n` +
    body +
    '  </rdf:Description>\n' +
    ' </rdf:RDF>\n' +
    '</x:xmpmeta>\n' +
    '<?xpacket end="w"?>';
  return new TextEncoder().encode(xml);
}

export interface AvmRead {
  [tag: string]: string | string[];
}

/**
 * Reads the avm: tags of an XMP packet. Only for the flat form written above
 * (and pyavm's); it is for tests and `bridge inspect`, not a general XML parser.
 */
export function parseAvmXmp(xmp: string): AvmRead {
  const out: AvmRead = {};
  const re = /<avm:([A-Za-z.]+)>([\s\S]*?)<\/avm:\1>/g;
  for (let m = re.exec(xmp); m; m = re.exec(xmp)) {
    const inner = m[2];
    if (inner.includes('<rdf:li')) {
      out[m[1]] = [...inner.matchAll(/<rdf:li[^>]*>([\s\S]*?)<\/rdf:li>/g)].map((x) => unescapeXml(x[1]));
    } else {
      out[m[1]] = unescapeXml(inner);
    }
  }
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
