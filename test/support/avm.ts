import type { CelestialWcs } from '../../src/imaging/wcs.js';

/**
 * Our own reading of AVM tags back into a WCS, the way pyavm's to_wcs does
 * (Scale + Rotation through CROTA2), so tests check what AVM readers see
 * without needing Python.
 */
export function wcsFromAvm(tags: Record<string, string | string[]>): CelestialWcs {
  const nums = (k: string) => (tags[k] as string[]).map(Number) as [number, number];
  const [s1, s2] = nums('Spatial.Scale');
  const r = (Number(tags['Spatial.Rotation']) * Math.PI) / 180;
  return {
    lonType: 'RA--',
    latType: 'DEC-',
    projection: String(tags['Spatial.CoordsystemProjection']),
    crval: nums('Spatial.ReferenceValue'),
    crpix: nums('Spatial.ReferencePixel'),
    cd: [
      [s1 * Math.cos(r), -s2 * Math.sin(r)],
      [s1 * Math.sin(r), s2 * Math.cos(r)],
    ],
  };
}
