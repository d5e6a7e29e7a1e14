import { ImagingError, type ImagePlane } from '../types.js';

/** Rubin's filters, bluest first. */
export const BAND_ORDER = ['u', 'g', 'r', 'i', 'z', 'y'] as const;
export type RubinBand = (typeof BAND_ORDER)[number];

export function isRubinBand(band: string): band is RubinBand {
  return (BAND_ORDER as readonly string[]).includes(band);
}

function rank(band: string): number {
  const i = (BAND_ORDER as readonly string[]).indexOf(band);
  if (i < 0) {
    throw new ImagingError(`unknown band "${band}": the default colour order knows ${BAND_ORDER.join(' ')}; give --rgb to map other bands explicitly`, {
      field: 'band',
    });
  }
  return i;
}

/**
 * Channels for the given bands, reddest first, so longer wavelengths show red:
 * - one band: that band (grey), whatever its name, as grey needs no order;
 * - two bands: [redder, bluer], rendered R = redder, B = bluer and G = their
 *   mean (renderColour synthesises it; see syntheticGreen). A two-band stamp
 *   is still a colour picture that way, and the hue keeps the colour ordering,
 *   which repeating a band (r,r,g) would skew towards yellow;
 * - three or more: the three reddest ([i, r, g] for g, r, i), since redder
 *   Rubin bands are the deeper ones for galaxies; give --rgb to choose others.
 * Band names other than u g r i z y cannot be ordered and raise unless an
 * explicit mapping (parseRgbMapping) is used. Duplicates raise.
 */
export function defaultChannelOrder(bands: string[]): string[] {
  if (bands.length === 0) throw new ImagingError('no bands given', { field: 'band' });
  if (new Set(bands).size !== bands.length) throw new ImagingError(`band given twice: ${bands.join(', ')}`, { field: 'band' });
  const sorted = [...bands].sort((a, b) => rank(b) - rank(a));
  return sorted.slice(0, 3);
}

/**
 * Validates an explicit `--rgb` list against the bands available: one band
 * (grey), two (R, B with synthesised G) or three (R, G, B), comma separated,
 * each one of `available` (any names, ugrizy or not; a band may repeat).
 */
export function parseRgbMapping(spec: string, available: string[]): string[] {
  const names = spec.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new ImagingError(`--rgb "${spec}" has an empty band name`, { field: 'rgb' });
  if (names.length < 1 || names.length > 3) {
    throw new ImagingError(`--rgb takes one band (grey), two (R,B; G is their mean) or three (R,G,B), got "${spec}"`, { field: 'rgb' });
  }
  for (const n of names) {
    if (!available.includes(n)) throw new ImagingError(`--rgb names band "${n}" but only ${available.join(', ')} were given`, { field: 'rgb' });
  }
  return names;
}

/**
 * The green channel for two bands: per pixel the mean of the red and blue
 * planes, undefined (NaN) where either is, so an undefined pixel in one band
 * stays "no data" rather than taking the other band's value. Float32 in,
 * float32 out.
 */
export function syntheticGreen(red: ImagePlane, blue: ImagePlane): ImagePlane {
  if (red.width !== blue.width || red.height !== blue.height || red.data.length !== blue.data.length) {
    throw new ImagingError(`planes differ in shape: ${red.width}x${red.height}, ${blue.width}x${blue.height}`, { field: 'shape' });
  }
  const n = red.data.length;
  const data = red.data instanceof Float32Array && blue.data instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
  const r = red.data;
  const b = blue.data;
  for (let i = 0; i < n; i++) data[i] = (r[i] + b[i]) / 2;
  return { width: red.width, height: red.height, data };
}
