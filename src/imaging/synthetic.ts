import type { ImagePlane } from './types.js';

/**
 * Rubin-like synthetic cutouts for demos and benchmarks: sky noise in nJy,
 * a few galaxies (Sersic-ish profiles with band-dependent colours) and stars.
 * Deterministic for a given seed.
 */

export const SYNTHETIC_BANDS = ['g', 'r', 'i'] as const;

/** mulberry32: small, fast, good enough for test images. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

interface Source {
  x: number;
  y: number;
  /** flux per band (g, r, i) at peak, nJy */
  amp: [number, number, number];
  re: number;
  q: number;
  pa: number;
  n: number;
}

/** The three bands (g, r, i) of one stamp. */
export function syntheticStamp(width: number, height: number, seed: number): [ImagePlane, ImagePlane, ImagePlane] {
  const r = rng(seed);
  const sources: Source[] = [];
  const nGal = 1 + Math.floor(r() * 3);
  for (let k = 0; k < nGal; k++) {
    const red = 0.5 + r() * 1.5; // redder galaxies are brighter in i
    const peak = 50 + r() * 400;
    sources.push({
      x: k === 0 ? width / 2 + gauss(r) : r() * width,
      y: k === 0 ? height / 2 + gauss(r) : r() * height,
      amp: [peak / red, peak, peak * red],
      re: (2 + r() * 8) * (Math.min(width, height) / 64),
      q: 0.3 + r() * 0.7,
      pa: r() * Math.PI,
      n: r() < 0.5 ? 1 : 4,
    });
  }
  const nStar = Math.floor(r() * 4);
  for (let k = 0; k < nStar; k++) {
    const peak = 200 + r() * 20000;
    sources.push({ x: r() * width, y: r() * height, amp: [peak * 0.8, peak, peak * 0.9], re: 1.2, q: 1, pa: 0, n: 0.5 });
  }
  const sigma = [8, 10, 14];
  const planes = [0, 1, 2].map(() => new Float32Array(width * height));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let prof = [0, 0, 0];
      for (const s of sources) {
        const dx = x - s.x;
        const dy = y - s.y;
        const c = Math.cos(s.pa);
        const sn = Math.sin(s.pa);
        const u = dx * c + dy * sn;
        const v = (-dx * sn + dy * c) / s.q;
        const rr = Math.sqrt(u * u + v * v) / s.re;
        if (rr > 12) continue;
        // Minus the value at the cut-off radius, so profiles fade to zero without a visible edge.
        const f = (Math.exp(-1.9 * Math.pow(rr, 1 / s.n)) - Math.exp(-1.9 * Math.pow(12, 1 / s.n)));
        prof = [prof[0] + s.amp[0] * f, prof[1] + s.amp[1] * f, prof[2] + s.amp[2] * f];
      }
      const i = y * width + x;
      for (let b = 0; b < 3; b++) planes[b][i] = prof[b] + sigma[b] * gauss(r);
    }
  }
  return planes.map((data) => ({ width, height, data })) as [ImagePlane, ImagePlane, ImagePlane];
}
