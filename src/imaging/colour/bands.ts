import { ImagingError } from '../types.js';

/** Rubin's filters, bluest first. */
export const BAND_ORDER = ['u', 'g', 'r', 'i', 'z', 'y'] as const;

function rank(band: string): number {
  const i = (BAND_ORDER as readonly string[]).indexOf(band);
  if (i < 0) throw new ImagingError(`unknown band "${band}": expected one of ${BAND_ORDER.join(' ')}, or give --rgb explicitly`, { field: 'band' });
  return i;
}

/**
 * Channel order for the given bands: the reddest to R, then G, then B.
 * One band gives grey. With more than three, the three reddest are used (give
 * --rgb to choose). Two bands cannot fill three channels without inventing
 * one, so they need an explicit --rgb (a band may be repeated, e.g. r,r,g).
 */
export function defaultChannelOrder(bands: string[]): string[] {
  if (bands.length === 0) throw new ImagingError('no bands given', { field: 'band' });
  if (bands.length === 1) return [...bands];
  const sorted = [...bands].sort((a, b) => rank(b) - rank(a));
  if (bands.length === 2) {
    throw new ImagingError(`two bands (${sorted.join(', ')}) cannot fill R, G, B; give --rgb, e.g. --rgb ${sorted[0]},${sorted[0]},${sorted[1]}`, {
      field: 'rgb',
    });
  }
  return sorted.slice(0, 3);
}

/** Parses an explicit `--rgb i,r,g` (or a single band for grey) against the bands given. */
export function parseRgbMapping(spec: string, available: string[]): string[] {
  const names = spec.split(',').map((s) => s.trim());
  if (names.length !== 1 && names.length !== 3) {
    throw new ImagingError(`--rgb takes one band (grey) or three (R,G,B), got "${spec}"`, { field: 'rgb' });
  }
  for (const n of names) {
    if (!available.includes(n)) throw new ImagingError(`--rgb names band "${n}" but only ${available.join(', ')} were given`, { field: 'rgb' });
  }
  return names;
}
