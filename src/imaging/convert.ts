import { FitsCutouts, stampList, type Cutout, type SkyPosition } from './cutouts/fits-cutouts.js';
import { DEFAULT_COLOUR_PRESET, renderColour, type ColourOptions, type RenderedColour } from './colour/presets.js';
import { downsample, fitFactor, mirrorX } from './resize.js';
import { encodePng } from './png/png-writer.js';
import type { AvmSpatial } from './png/avm.js';
import { isMirrored, mirrorWcsX, pixelToSky, positionWcs, resizeWcs, type CelestialWcs } from './wcs.js';
import { ImagingError, type ImagePlane } from './types.js';
import { SOFTWARE } from './version.js';

export interface ConvertOptions {
  colour: ColourOptions;
  /** Largest output side in pixels; larger stamps are shrunk (WCS updated). */
  maxSide?: number;
  /** zlib level 0-9. */
  level: number;
  maxBytes: number;
  /** Pixel scale assumed for stamps known only by RA_DEG/DEC_DEG. */
  pixelScaleArcsec: number;
  /** Bands of one stamp must agree in position to within this. */
  positionToleranceArcsec: number;
  /**
   * Also render every band alone as a grey frame, for Zooniverse subjects
   * shown as a flipbook (colour image first, then one frame per band). One
   * band needs none: its image already is the grey frame.
   */
  frames?: boolean;
}

export const DEFAULT_CONVERT_OPTIONS: ConvertOptions = {
  colour: { preset: DEFAULT_COLOUR_PRESET },
  level: 6,
  maxBytes: 1_000_000,
  pixelScaleArcsec: 0.2,
  positionToleranceArcsec: 1,
};

export type WcsQuality = 'full' | 'position' | 'none';

/** One line of stamps.jsonl (minus `file`, which the writer knows). */
export interface StampRecord {
  index: number;
  ra: number | null;
  dec: number | null;
  width: number;
  height: number;
  wcs: WcsQuality;
  bytes: number;
  /** The object id the FITS file gives this stamp (the first band that gives one). */
  objectId?: string;
}

/** One band of a stamp rendered alone, aligned pixel for pixel with the colour image. */
export interface StampFrame {
  band: string;
  png: Uint8Array;
}

export interface ChannelSource {
  band: string;
  cutouts: FitsCutouts;
}

/**
 * Renders stamp `index` of a band set (channels already in R, G, B order, or
 * one for grey) to a PNG with AVM and provenance. With `opts.frames` and two
 * or more bands, also each band alone as the PNG a one-band conversion of it
 * would give, from the same cutouts and geometry.
 */
export async function convertStamp(
  channels: ChannelSource[],
  index: number,
  opts: ConvertOptions,
): Promise<{ png: Uint8Array; record: StampRecord; frames?: StampFrame[] }> {
  const cutouts: Cutout[] = [];
  for (const ch of channels) cutouts.push(await ch.cutouts.read(index));
  const where = { stamp: index };
  const first = cutouts[0];
  cutouts.forEach((c, i) => {
    if (c.plane.width !== first.plane.width || c.plane.height !== first.plane.height) {
      throw new ImagingError(
        `band ${channels[i].band} is ${c.plane.width} x ${c.plane.height} but band ${channels[0].band} is ${first.plane.width} x ${first.plane.height}`,
        where,
      );
    }
  });
  const position = agreedPosition(channels, cutouts, opts.positionToleranceArcsec, index);

  let planes: ImagePlane[] = cutouts.map((c) => c.plane);
  let sourceWcs = cutouts.find((c) => c.wcs)?.wcs;
  // East-right images are mirrored so volunteers see the sky as it is and
  // AVM readers, which assume standard parity, read the right coordinates.
  const mirrored = sourceWcs !== undefined && isMirrored(sourceWcs);
  if (mirrored) {
    planes = planes.map(mirrorX);
    sourceWcs = mirrorWcsX(sourceWcs!, first.plane.width);
  }
  const f = fitFactor(first.plane.width, first.plane.height, opts.maxSide);
  if (f < 1) planes = planes.map((p) => downsample(p, f));
  const width = planes[0].width;
  const height = planes[0].height;
  const fx = width / first.plane.width;
  const fy = height / first.plane.height;

  const colour = renderColour(planes, { ...opts.colour, bands: channels.map((c) => c.band) });
  // Frames are rendered before the release below: unmirrored, full-size
  // planes are the cutouts' own buffers, which release hands to the next read.
  const frameRenders =
    opts.frames && channels.length > 1
      ? planes.map((p, c) => renderColour([p], frameColour(opts.colour, c, channels.length, channels[c].band)))
      : undefined;
  // The source pixels are no longer needed (planes are copies when resized or mirrored, else rendered already).
  cutouts.forEach((c, i) => channels[i].cutouts.release(c));

  let spatial: AvmSpatial | undefined;
  let quality: WcsQuality = 'none';
  let ra: number | null = null;
  let dec: number | null = null;
  if (sourceWcs) {
    const wcs = f < 1 ? resizeWcs(sourceWcs, fx, fy) : sourceWcs;
    spatial = { wcs, width, height, quality: 'Full' };
    quality = 'full';
    [ra, dec] = centre(wcs, width, height);
  } else if (position) {
    const wcs0 = positionWcs(position.ra, position.dec, first.plane.width, first.plane.height, opts.pixelScaleArcsec);
    const wcs = f < 1 ? resizeWcs(wcs0, fx, fy) : wcs0;
    spatial = {
      wcs,
      width,
      height,
      quality: 'Position',
      notes: `Position only: reference pixel at the stamp centre, north up, ${opts.pixelScaleArcsec} arcsec/pixel assumed.`,
    };
    quality = 'position';
    ra = position.ra;
    dec = position.dec;
  }

  const geometry: StampGeometry = {
    index,
    spatial,
    resize: f < 1 ? { factor: [fx, fy], from: [first.plane.width, first.plane.height] } : null,
    mirrored,
    quality,
  };
  const sources = channels.map((ch, i) => ({ band: ch.band, file: ch.cutouts.name, hdu: cutouts[i].hdu }));
  const png = encodeStamp(sources, colour, geometry, opts);
  const record: StampRecord = { index, ra, dec, width, height, wcs: quality, bytes: png.length };
  const objectId = cutouts.find((c) => c.objectId !== undefined)?.objectId;
  if (objectId !== undefined) record.objectId = objectId;
  if (!frameRenders) return { png, record };
  const frames = frameRenders.map((r, c) => {
    try {
      return { band: sources[c].band, png: encodeStamp([sources[c]], r, geometry, opts) };
    } catch (e) {
      throw new ImagingError(`frame of band ${sources[c].band}: ${(e as Error).message}`);
    }
  });
  return { png, record, frames };
}

/**
 * What the colour image and its frames share: they differ only in pixels and
 * sources. A flipbook needs its frames aligned, so a frame keeps this
 * geometry (the first band's WCS or position) even where its own band's
 * header differs within the position tolerance.
 */
interface StampGeometry {
  index: number;
  spatial: AvmSpatial | undefined;
  resize: { factor: [number, number]; from: [number, number] } | null;
  mirrored: boolean;
  quality: WcsQuality;
}

function encodeStamp(
  sources: { band: string; file: string; hdu: Cutout['hdu'] }[],
  rendered: RenderedColour,
  g: StampGeometry,
  opts: ConvertOptions,
): Uint8Array {
  const provenance = {
    software: SOFTWARE,
    sources,
    stamp: g.index,
    channels: channelLabels(sources.map((s) => s.band)),
    colour: rendered.params,
    resize: g.resize,
    mirrored: g.mirrored,
    wcs: g.quality,
  };
  return encodePng(rendered.raster, {
    level: opts.level,
    maxBytes: opts.maxBytes,
    spatial: g.spatial,
    text: {
      Software: SOFTWARE,
      Source: sources.map((s) => s.file.split('/').pop()).join(', '),
      'bridge:provenance': JSON.stringify(provenance),
    },
  });
}

/**
 * Colour options for band `c` of `n` rendered alone. Per-channel values
 * (minimum, scales: R, G, B) are narrowed to that band's channel, so a frame
 * uses the black level and scale the band has in the colour image; the grey
 * path would otherwise refuse three differing minimums and take R's scale for
 * every band. Scalar options pass through unchanged.
 */
function frameColour(colour: ColourOptions, c: number, n: number, band: string): ColourOptions {
  // Two bands fill R and B (G is their mean).
  const rgb = n === 2 ? (c === 0 ? 0 : 2) : c;
  const o: ColourOptions = { ...colour, bands: [band] };
  if (Array.isArray(colour.minimum)) o.minimum = colour.minimum[rgb];
  if (colour.scales) {
    const s = colour.scales[rgb];
    o.scales = [s, s, s];
  }
  return o;
}

function channelLabels(bands: string[]): Record<string, string> {
  if (bands.length === 3) return { R: bands[0], G: bands[1], B: bands[2] };
  if (bands.length === 2) return { R: bands[0], G: `mean of ${bands[0]} and ${bands[1]}`, B: bands[1] };
  return { grey: bands[0] };
}

function centre(w: CelestialWcs, width: number, height: number): [number, number] {
  return pixelToSky(w, (width + 1) / 2, (height + 1) / 2) ?? [w.crval[0], w.crval[1]];
}

function agreedPosition(channels: ChannelSource[], cutouts: Cutout[], tolArcsec: number, index: number): SkyPosition | undefined {
  const known = cutouts.map((c, i) => ({ band: channels[i].band, p: c.position })).filter((x) => x.p);
  if (!known.length) return undefined;
  const ref = known[0];
  for (const k of known.slice(1)) {
    const sep = separationArcsec(ref.p!, k.p!);
    if (sep > tolArcsec) {
      throw new ImagingError(
        `bands disagree on position: ${ref.band} at (${ref.p!.ra}, ${ref.p!.dec}), ${k.band} at (${k.p!.ra}, ${k.p!.dec}), ${sep.toFixed(2)}" apart`,
        { stamp: index },
      );
    }
  }
  return ref.p;
}

export function separationArcsec(a: SkyPosition, b: SkyPosition): number {
  const d2r = Math.PI / 180;
  const s =
    Math.sin(((b.dec - a.dec) * d2r) / 2) ** 2 +
    Math.cos(a.dec * d2r) * Math.cos(b.dec * d2r) * Math.sin(((b.ra - a.ra) * d2r) / 2) ** 2;
  return (2 * Math.asin(Math.min(1, Math.sqrt(s))) * 180 * 3600) / Math.PI;
}

/**
 * The stamps of a band set, before any work: `total` is the largest stamp
 * count among the bands, and `missing` holds each stamp some band file
 * lacks (a Stamps file short of its N_STAMPS, or a band file with fewer
 * stamps than another), with an error naming each file that lacks it, e.g.
 * "missing from r.fits: N_STAMPS says 5 but the file holds 3 IMAGE extensions
 * (no IMAGE with EXTVER 4)". Such a stamp cannot be made; the others can, so
 * a set with missing stamps is partial, never refused whole nor silently short.
 * `warnings` names the missing stamps of bands that disagree in count, once
 * per band (a Stamps file's own shortfall is among its cutouts' warnings).
 */
export function planStamps(channels: ChannelSource[]): { total: number; missing: Map<number, string>; warnings: string[] } {
  const total = Math.max(0, ...channels.map((c) => c.cutouts.count));
  const top = channels.find((c) => c.cutouts.count === total)!;
  const reasons = new Map<number, string[]>();
  const add = (index: number, name: string, reason: string) => {
    const list = reasons.get(index) ?? [];
    list.push(`missing from ${name}: ${reason}`);
    reasons.set(index, list);
  };
  const warnings: string[] = [];
  for (const ch of channels) {
    const { name, count } = ch.cutouts;
    for (const m of ch.cutouts.missing) add(m.index, name, m.reason);
    if (count < total) {
      const why = `it has ${count} stamp${count === 1 ? '' : 's'}, band ${top.band} (${top.cutouts.name}) has ${total}`;
      const lacking: number[] = [];
      for (let i = count; i < total; i++) {
        add(i, name, why);
        lacking.push(i);
      }
      warnings.push(`${name}: ${stampList(lacking)} of ${total} missing: ${why}`);
    }
  }
  const missing = new Map([...reasons].sort((a, b) => a[0] - b[0]).map(([i, list]) => [i, list.join('; ')]));
  return { total, missing, warnings };
}
