/**
 * DBSCAN on 2-D points, the algorithm panoptes_aggregation runs through
 * scikit-learn for point and shape reducers: a point with at least
 * `minSamples` points (itself included) within `eps` (Euclidean, distance
 * <= eps) is a core point; clusters are the core points reachable from one
 * another plus their border points; everything else is noise (label -1).
 *
 * Deterministic for a given input order: clusters are numbered in order of
 * their first core point, and a border point within reach of two clusters
 * joins the one expanded first. Callers pass points in a canonical order
 * (classification id, then mark index) so that the result does not depend on
 * how the classifications arrived. Neighbours are found through a grid of
 * eps-sized cells, so a subject with thousands of marks stays near-linear.
 */

export interface DbscanOptions {
  /** Neighbourhood radius in display pixels (panoptes_aggregation default 5). */
  eps: number;
  /** Points in a neighbourhood, itself included, to be a core point (default 3). */
  minSamples: number;
}

export const DEFAULT_DBSCAN: DbscanOptions = { eps: 5, minSamples: 3 };

/** Up to this many points every pair is compared; beyond, neighbours come from a grid of eps-sized cells. */
const BRUTE_FORCE_UP_TO = 64;

/** Cluster labels (0, 1, ...) or -1 for noise, one per point. */
export function dbscan(xs: ArrayLike<number>, ys: ArrayLike<number>, opts: DbscanOptions): Int32Array {
  const n = xs.length;
  const labels = new Int32Array(n).fill(-2); // -2: not visited yet
  const { eps, minSamples } = opts;
  if (!(eps > 0)) throw new RangeError(`DBSCAN eps must be > 0, got ${eps}`);
  const eps2 = eps * eps;
  // A subject's marks are usually a few dozen: comparing every pair is then cheaper than building the grid, and
  // gives the neighbours already in input order.
  const scan = (i: number): number[] => {
    const out: number[] = [];
    const x = xs[i];
    const y = ys[i];
    for (let j = 0; j < n; j++) {
      const ddx = xs[j] - x;
      const ddy = ys[j] - y;
      if (ddx * ddx + ddy * ddy <= eps2) out.push(j);
    }
    return out;
  };
  const grid = new Map<string, number[]>();
  const cell = (v: number) => Math.floor(v / eps);
  if (n > BRUTE_FORCE_UP_TO) {
    for (let i = 0; i < n; i++) {
      const k = `${cell(xs[i])},${cell(ys[i])}`;
      const list = grid.get(k);
      if (list) list.push(i);
      else grid.set(k, [i]);
    }
  }
  const neighbours = n <= BRUTE_FORCE_UP_TO ? scan : (i: number): number[] => {
    const cx = cell(xs[i]);
    const cy = cell(ys[i]);
    const out: number[] = [];
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        const list = grid.get(`${cx + dx},${cy + dy}`);
        if (!list) continue;
        for (const j of list) {
          const ddx = xs[j] - xs[i];
          const ddy = ys[j] - ys[i];
          if (ddx * ddx + ddy * ddy <= eps2) out.push(j);
        }
      }
    }
    // Grid cells are visited in a fixed pattern; sort so expansion follows input order.
    return out.sort((a, b) => a - b);
  };
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== -2) continue;
    const nb = neighbours(i);
    if (nb.length < minSamples) {
      labels[i] = -1;
      continue;
    }
    const id = next++;
    labels[i] = id;
    // A point is labelled when first reached and queued once, to be expanded in the order reached (the order
    // a queue holding every reach would expand it in); queueing every reach made a cluster of n marks cost n^2
    // pushes. Noise reached from a core point becomes a border point and is not expanded (it is not core).
    const queue: number[] = [];
    const reach = (k: number) => {
      if (labels[k] === -1) labels[k] = id;
      else if (labels[k] === -2) {
        labels[k] = id;
        queue.push(k);
      }
    };
    for (const k of nb) reach(k);
    for (let q = 0; q < queue.length; q++) {
      const nbj = neighbours(queue[q]);
      if (nbj.length >= minSamples) for (const k of nbj) reach(k);
    }
  }
  return labels;
}
