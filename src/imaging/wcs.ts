import { formatCard, type Header } from './fits/header.js';

const D2R = Math.PI / 180;
const R2D = 180 / Math.PI;

export type Matrix2 = [[number, number], [number, number]];

export interface Sip {
  aOrder: number;
  bOrder: number;
  /** a[p][q] multiplies u^p v^q; missing terms are 0. */
  a: number[][];
  b: number[][];
}

/**
 * A celestial WCS reduced to what cutouts use: two celestial axes, a linear
 * part as a CD matrix (PC+CDELT and CDELT+CROTA2 are folded into it), and
 * optional SIP distortion. Pixel coordinates are FITS 1-based, y up.
 */
export interface CelestialWcs {
  /** 'RA--', 'GLON', ... and the 3-letter projection, from CTYPE1/2. */
  lonType: string;
  latType: string;
  projection: string;
  crval: [number, number];
  crpix: [number, number];
  cd: Matrix2;
  radesys?: string;
  equinox?: number;
  lonpole?: number;
  sip?: Sip;
}

/** Reads the primary (unlettered) celestial WCS; undefined when there is none. */
export function readWcs(h: Header): CelestialWcs | undefined {
  const c1 = h.string('CTYPE1')?.trim().toUpperCase();
  const c2 = h.string('CTYPE2')?.trim().toUpperCase();
  if (!c1 || !c2 || c1.length < 8 || c2.length < 8) return undefined;
  const lonType = c1.slice(0, 4);
  const latType = c2.slice(0, 4);
  const celestial = ['RA--', 'GLON', 'ELON', 'SLON'].includes(lonType) && ['DEC-', 'GLAT', 'ELAT', 'SLAT'].includes(latType);
  if (!celestial) return undefined;
  const projection = c1.slice(5, 8);
  const crval: [number, number] = [h.number('CRVAL1') ?? 0, h.number('CRVAL2') ?? 0];
  const crpix: [number, number] = [h.number('CRPIX1') ?? 0, h.number('CRPIX2') ?? 0];
  let cd: Matrix2;
  if (['CD1_1', 'CD1_2', 'CD2_1', 'CD2_2'].some((k) => h.has(k))) {
    cd = [
      [h.number('CD1_1') ?? 0, h.number('CD1_2') ?? 0],
      [h.number('CD2_1') ?? 0, h.number('CD2_2') ?? 0],
    ];
  } else {
    const cdelt1 = h.number('CDELT1') ?? 1;
    const cdelt2 = h.number('CDELT2') ?? 1;
    let pc: Matrix2;
    if (['PC1_1', 'PC1_2', 'PC2_1', 'PC2_2'].some((k) => h.has(k))) {
      pc = [
        [h.number('PC1_1') ?? 1, h.number('PC1_2') ?? 0],
        [h.number('PC2_1') ?? 0, h.number('PC2_2') ?? 1],
      ];
    } else {
      const rho = (h.number('CROTA2') ?? 0) * D2R;
      const c = Math.cos(rho);
      const s = Math.sin(rho);
      pc = [
        [c, (-s * cdelt2) / cdelt1],
        [(s * cdelt1) / cdelt2, c],
      ];
    }
    cd = [
      [cdelt1 * pc[0][0], cdelt1 * pc[0][1]],
      [cdelt2 * pc[1][0], cdelt2 * pc[1][1]],
    ];
  }
  const wcs: CelestialWcs = { lonType, latType, projection, crval, crpix, cd };
  const radesys = h.string('RADESYS') ?? h.string('RADECSYS');
  if (radesys) wcs.radesys = radesys.trim().toUpperCase();
  const equinox = h.number('EQUINOX') ?? h.number('EPOCH');
  if (equinox !== undefined) wcs.equinox = equinox;
  const lonpole = h.number('LONPOLE');
  if (lonpole !== undefined) wcs.lonpole = lonpole;
  if (c1.endsWith('-SIP')) {
    const sip = readSip(h);
    if (sip) wcs.sip = sip;
  }
  return wcs;
}

function readSip(h: Header): Sip | undefined {
  const aOrder = h.number('A_ORDER');
  const bOrder = h.number('B_ORDER');
  if (aOrder === undefined || bOrder === undefined || aOrder > 9 || bOrder > 9) return undefined;
  const grid = (prefix: string, order: number) => {
    const m: number[][] = [];
    for (let p = 0; p <= order; p++) {
      m.push([]);
      for (let q = 0; q <= order - p; q++) m[p].push(h.number(`${prefix}_${p}_${q}`) ?? 0);
    }
    return m;
  };
  return { aOrder, bOrder, a: grid('A', aOrder), b: grid('B', bOrder) };
}

function poly(m: number[][], u: number, v: number): number {
  let s = 0;
  for (let p = 0; p < m.length; p++) for (let q = 0; q < m[p].length; q++) if (m[p][q]) s += m[p][q] * u ** p * v ** q;
  return s;
}

/** FITS 1-based pixel -> (lon, lat) in degrees, for the zenithal projections cutouts use. */
export function pixelToSky(w: CelestialWcs, x: number, y: number): [number, number] | undefined {
  let u = x - w.crpix[0];
  let v = y - w.crpix[1];
  if (w.sip) {
    const du = poly(w.sip.a, u, v);
    const dv = poly(w.sip.b, u, v);
    u += du;
    v += dv;
  }
  const ix = w.cd[0][0] * u + w.cd[0][1] * v;
  const iy = w.cd[1][0] * u + w.cd[1][1] * v;
  const r = Math.hypot(ix, iy);
  const phi = r === 0 ? 0 : Math.atan2(ix, -iy);
  let theta: number;
  switch (w.projection) {
    case 'TAN':
      theta = Math.atan2(R2D, r);
      break;
    case 'SIN':
      if (r * D2R > 1) return undefined;
      theta = Math.acos(r * D2R);
      break;
    case 'ARC':
      theta = (90 - r) * D2R;
      break;
    case 'ZEA':
      if (r * D2R > 2) return undefined;
      theta = Math.PI / 2 - 2 * Math.asin((r * D2R) / 2);
      break;
    default:
      return undefined;
  }
  const a0 = w.crval[0] * D2R;
  const d0 = w.crval[1] * D2R;
  const phiP = (w.lonpole ?? (w.crval[1] >= 90 ? 0 : 180)) * D2R;
  const dphi = phi - phiP;
  const st = Math.sin(theta);
  const ct = Math.cos(theta);
  const lon = a0 + Math.atan2(-ct * Math.sin(dphi), st * Math.cos(d0) - ct * Math.sin(d0) * Math.cos(dphi));
  const lat = Math.asin(Math.max(-1, Math.min(1, st * Math.sin(d0) + ct * Math.cos(d0) * Math.cos(dphi))));
  return [normLon(lon * R2D), lat * R2D];
}

export function normLon(deg: number): number {
  const r = deg % 360;
  return r < 0 ? r + 360 : r;
}

export interface ScaleRotation {
  /** deg/pixel; the first is negative for standard parity (east left). */
  scale: [number, number];
  /** degrees, CROTA2 convention, in (-180, 180]. */
  rotation: number;
  /** difference between the two rotation estimates (0 when there is no skew). */
  skew: number;
}

/**
 * CDELT/CROTA2 equivalent of a CD matrix (Calabretta & Greisen 2002, 6.2).
 * atan2 over both columns keeps rotations beyond +-90 degrees right, which a
 * single arctan does not.
 */
export function scaleRotation(cd: Matrix2): ScaleRotation {
  const [[c11, c12], [c21, c22]] = cd;
  const det = c11 * c22 - c12 * c21;
  const s1 = Math.hypot(c11, c21) * (det < 0 ? -1 : 1);
  const s2 = Math.hypot(c12, c22);
  // CD = [[s1 cos r, -s2 sin r], [s1 sin r, s2 cos r]]
  const ra = Math.atan2(c21 / s1, c11 / s1) * R2D;
  const rb = Math.atan2(-c12 / s2, c22 / s2) * R2D;
  let skew = Math.abs(ra - rb) % 360;
  if (skew > 180) skew = 360 - skew;
  return { scale: [s1, s2], rotation: ra === -180 ? 180 : ra, skew };
}

/**
 * WCS of an image resized by fx, fy (< 1 shrinks; the two differ only by the
 * rounding of the output size). Pixel centres stay on the sky:
 * CRPIX' = (CRPIX - 0.5) f + 0.5, and each CD column divides by its factor.
 */
export function resizeWcs(w: CelestialWcs, fx: number, fy = fx): CelestialWcs {
  const out: CelestialWcs = {
    ...w,
    crpix: [(w.crpix[0] - 0.5) * fx + 0.5, (w.crpix[1] - 0.5) * fy + 0.5],
    cd: [
      [w.cd[0][0] / fx, w.cd[0][1] / fy],
      [w.cd[1][0] / fx, w.cd[1][1] / fy],
    ],
  };
  if (w.sip) {
    // u = u'/fx, v = v'/fy and the distortion is in old pixels, so
    // A'_pq = A_pq fx / (fx^p fy^q), B'_pq = B_pq fy / (fx^p fy^q).
    const rescale = (m: number[][], g: number) => m.map((row, p) => row.map((c, q) => (c * g) / (fx ** p * fy ** q)));
    out.sip = { ...w.sip, a: rescale(w.sip.a, fx), b: rescale(w.sip.b, fy) };
  }
  return out;
}

/** A north-up TAN WCS centred on a position, for stamps whose only coordinate is RA/DEC. */
export function positionWcs(ra: number, dec: number, width: number, height: number, arcsecPerPixel: number): CelestialWcs {
  const s = arcsecPerPixel / 3600;
  return {
    lonType: 'RA--',
    latType: 'DEC-',
    projection: 'TAN',
    crval: [normLon(ra), dec],
    crpix: [(width + 1) / 2, (height + 1) / 2],
    cd: [
      [-s, 0],
      [0, s],
    ],
    radesys: 'ICRS',
  };
}

/** The WCS as FITS header cards (one 80-column card per line) for AVM Spatial.FITSheader. */
export function wcsHeaderCards(w: CelestialWcs, width: number, height: number): string[] {
  const sipSuffix = w.sip ? '-SIP' : '';
  const ctype = (t: string) => (t + '-' + w.projection).padEnd(8, '-').slice(0, 8) + sipSuffix;
  const cards = [
    formatCard('NAXIS', 2),
    formatCard('NAXIS1', width),
    formatCard('NAXIS2', height),
    formatCard('WCSAXES', 2),
    formatCard('CTYPE1', ctype(w.lonType)),
    formatCard('CTYPE2', ctype(w.latType)),
    formatCard('CRVAL1', w.crval[0]),
    formatCard('CRVAL2', w.crval[1]),
    formatCard('CRPIX1', w.crpix[0]),
    formatCard('CRPIX2', w.crpix[1]),
    formatCard('CD1_1', w.cd[0][0]),
    formatCard('CD1_2', w.cd[0][1]),
    formatCard('CD2_1', w.cd[1][0]),
    formatCard('CD2_2', w.cd[1][1]),
    formatCard('CUNIT1', 'deg'),
    formatCard('CUNIT2', 'deg'),
  ];
  if (w.radesys) cards.push(formatCard('RADESYS', w.radesys));
  if (w.equinox !== undefined) cards.push(formatCard('EQUINOX', w.equinox));
  if (w.lonpole !== undefined) cards.push(formatCard('LONPOLE', w.lonpole));
  if (w.sip) {
    cards.push(formatCard('A_ORDER', w.sip.aOrder), formatCard('B_ORDER', w.sip.bOrder));
    for (const [name, m] of [['A', w.sip.a], ['B', w.sip.b]] as const) {
      m.forEach((row, p) => row.forEach((c, q) => c !== 0 && cards.push(formatCard(`${name}_${p}_${q}`, c))));
    }
  }
  return cards;
}

/** true when east is to the right (CD determinant > 0), i.e. the image is a mirror view of the sky. */
export function isMirrored(w: CelestialWcs): boolean {
  return w.cd[0][0] * w.cd[1][1] - w.cd[0][1] * w.cd[1][0] > 0;
}

/**
 * WCS of the image mirrored left-right (x' = width + 1 - x). Used to give
 * east-right images standard parity, which AVM readers (pyavm, WWT) assume.
 */
export function mirrorWcsX(w: CelestialWcs, width: number): CelestialWcs {
  const out: CelestialWcs = {
    ...w,
    crpix: [width + 1 - w.crpix[0], w.crpix[1]],
    cd: [
      [-w.cd[0][0], w.cd[0][1]],
      [-w.cd[1][0], w.cd[1][1]],
    ],
  };
  if (w.sip) {
    // u' = -u: A'_pq = -(-1)^p A_pq, B'_pq = (-1)^p B_pq.
    out.sip = {
      ...w.sip,
      a: w.sip.a.map((row, p) => row.map((c) => (p % 2 ? c : -c))),
      b: w.sip.b.map((row, p) => row.map((c) => (p % 2 ? -c : c))),
    };
  }
  return out;
}
