import type { ImagePlane } from './types.js';

/**
 * Area-weighted downsampling of a float plane by factor f (< 1), undefined
 * pixels ignored (an output pixel with no defined input stays NaN). Done on
 * the physical values before the colour stretch so flux is averaged, not
 * 8-bit codes. Output size is round(n * f), at least 1.
 */
export function downsample(p: ImagePlane, f: number): ImagePlane {
  const ow = Math.max(1, Math.round(p.width * f));
  const oh = Math.max(1, Math.round(p.height * f));
  // Effective factors per axis after rounding; the WCS uses the same f on both
  // axes, so callers choose f so that rounding errors stay below half a pixel.
  const fx = ow / p.width;
  const fy = oh / p.height;
  const xs = spans(p.width, ow, fx);
  const ys = spans(p.height, oh, fy);
  const out = new Float32Array(ow * oh);
  const rowAcc = new Float64Array(ow);
  const rowW = new Float64Array(ow);
  for (let oy = 0; oy < oh; oy++) {
    rowAcc.fill(0);
    rowW.fill(0);
    const ysp = ys[oy];
    for (let k = 0; k < ysp.idx.length; k++) {
      const wy = ysp.w[k];
      const base = ysp.idx[k] * p.width;
      for (let ox = 0; ox < ow; ox++) {
        const xsp = xs[ox];
        for (let j = 0; j < xsp.idx.length; j++) {
          const v = p.data[base + xsp.idx[j]];
          if (v === v) {
            const w = wy * xsp.w[j];
            rowAcc[ox] += v * w;
            rowW[ox] += w;
          }
        }
      }
    }
    for (let ox = 0; ox < ow; ox++) out[oy * ow + ox] = rowW[ox] > 0 ? rowAcc[ox] / rowW[ox] : NaN;
  }
  return { width: ow, height: oh, data: out };
}

interface Span {
  idx: number[];
  w: number[];
}

/** For each output pixel, the input pixels it covers and by how much. */
function spans(n: number, on: number, f: number): Span[] {
  const out: Span[] = [];
  for (let o = 0; o < on; o++) {
    const a = o / f;
    const b = (o + 1) / f;
    const s: Span = { idx: [], w: [] };
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const w = Math.min(b, i + 1) - Math.max(a, i);
      if (w > 1e-12) {
        s.idx.push(i);
        s.w.push(w);
      }
    }
    out.push(s);
  }
  return out;
}

/** The factor that brings the longer side down to maxSide (1 when it already fits). */
export function fitFactor(width: number, height: number, maxSide: number | undefined): number {
  if (!maxSide) return 1;
  const side = Math.max(width, height);
  return side > maxSide ? maxSide / side : 1;
}

/** Left-right mirror of a plane. */
export function mirrorX(p: ImagePlane): ImagePlane {
  const out = new (p.data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(p.data.length);
  for (let y = 0; y < p.height; y++) {
    const row = y * p.width;
    for (let x = 0; x < p.width; x++) out[row + x] = p.data[row + p.width - 1 - x];
  }
  return { width: p.width, height: p.height, data: out };
}
