/**
 * Point and shape reducers: DBSCAN (dbscan.ts) per frame and tool on the
 * marks' centres, as panoptes_aggregation's point_reducer_dbscan (and, for
 * shapes, clustering on the centre in pixels rather than on all shape
 * parameters, so eps means the same for every tool).
 *
 * Per cluster: the mean centre, its spread (sample standard deviation in x
 * and y, numpy.cov's ddof=1; null for a one-mark cluster), the number of
 * marks, the mean shape parameters (r; rx, ry and the ellipse angle as an
 * axial mean over 180 degrees; width, height) and, when the caller maps the
 * subject's pixels to the sky, the centre's (ra, dec). Noise marks are
 * counted. DBSCAN is not incremental: the running reducer keeps each
 * subject's marks (compactly, MarkSet) and re-clusters that subject only.
 */
import { dbscan, type DbscanOptions } from './dbscan.js';
import { comparePacked, packId, type Packed } from './volunteer.js';
import type { DrawingExtract, Mark, SkyMap, ToolType } from './types.js';

/** Numbers stored per mark, after x and y. */
const EXTRA: Record<ToolType, readonly (keyof Mark)[]> = {
  point: [],
  circle: ['r'],
  ellipse: ['rx', 'ry', 'angle'],
  rectangle: ['width', 'height'],
};

/**
 * The marks of one (frame, tool) on one subject, flat so a million marks stay
 * small and JSON-friendly: `v` holds [x, y, ...EXTRA] per mark, `ids` the
 * classification each mark came from (for canonical order and retraction).
 *
 * With `scale` (sets made since it exists), `v` holds each number times
 * `scale`, rounded: integers in thousandths of a pixel (or degree). A
 * volunteer's click is not known to better than a screen pixel, so nothing
 * is lost, and the stored state halves: full-precision doubles such as
 * 96.1677215961441 were most of a subject's JSON, and integers are what
 * JSON.parse and JSON.stringify handle fastest (the incremental step reads
 * and writes every touched subject's state). Sets without `scale` (stored
 * before) keep plain numbers. The batch and running reductions both go
 * through addMarks, so they agree exactly.
 */
export interface MarkSet {
  frame: number;
  tool: number;
  toolType: ToolType;
  v: number[];
  /** Packed (volunteer.ts): numbers for Panoptes ids. */
  ids: Packed[];
  scale?: number;
}

/** Stored mark numbers are in 1/MARK_SCALE of a pixel (or degree). */
export const MARK_SCALE = 1000;

export interface Cluster {
  x: number;
  y: number;
  stdX: number | null;
  stdY: number | null;
  count: number;
  r?: number;
  rx?: number;
  ry?: number;
  angle?: number;
  width?: number;
  height?: number;
  sky?: { ra: number; dec: number };
}

export interface ToolReduction {
  frame: number;
  tool: number;
  toolType: ToolType;
  marks: number;
  noise: number;
  clusters: Cluster[];
}

export interface DrawingReduction {
  kind: 'drawing';
  classifications: number;
  tools: ToolReduction[];
}

export const markSetKey = (frame: number, tool: number) => `${frame}:${tool}`;

/** Appends one classification's marks to the sets (created as needed). A mark whose type disagrees with its set is dropped. */
export function addMarks(sets: Record<string, MarkSet>, classificationId: string, marks: readonly Mark[]): void {
  const id = packId(classificationId);
  for (const m of marks) {
    const key = markSetKey(m.frame, m.tool);
    let s = sets[key];
    if (!s) s = sets[key] = { frame: m.frame, tool: m.tool, toolType: m.toolType, v: [], ids: [], scale: MARK_SCALE };
    if (s.toolType !== m.toolType) continue;
    const k = s.scale;
    const v = s.v;
    const put = (x: number) => v.push(k === undefined ? x : Math.round(x * k));
    put(m.x);
    put(m.y);
    for (const f of EXTRA[m.toolType]) put(m[f] as number);
    s.ids.push(id);
  }
}

/** Takes back every mark of one classification. */
export function removeMarks(sets: Record<string, MarkSet>, classificationId: string): void {
  const id = packId(classificationId);
  for (const key of Object.keys(sets)) {
    const s = sets[key];
    const stride = 2 + EXTRA[s.toolType].length;
    const v: number[] = [];
    const ids: Packed[] = [];
    for (let i = 0; i < s.ids.length; i++) {
      if (s.ids[i] === id) continue;
      ids.push(s.ids[i]);
      for (let k = 0; k < stride; k++) v.push(s.v[i * stride + k]);
    }
    if (ids.length === 0) delete sets[key];
    else Object.assign(s, { v, ids });
  }
}

function std(vals: number[], mean: number): number | null {
  if (vals.length < 2) return null;
  let s = 0;
  for (const v of vals) s += (v - mean) * (v - mean);
  return Math.sqrt(s / (vals.length - 1));
}

const mean = (vals: number[]) => vals.reduce((s, v) => s + v, 0) / vals.length;

/** Clusters one MarkSet. */
export function clusterMarkSet(s: MarkSet, opts: DbscanOptions, sky?: SkyMap): ToolReduction {
  const extra = EXTRA[s.toolType];
  const stride = 2 + extra.length;
  // Canonical order: by classification id, marks of one classification in drawing order (stable sort).
  const order = s.ids.map((_, i) => i);
  // Marks arrive in id order (the running reduction applies classifications so): sort only when they did not.
  let sorted = true;
  for (let i = 1; i < order.length && sorted; i++) sorted = comparePacked(s.ids[i - 1], s.ids[i]) <= 0;
  if (!sorted) order.sort((a, b) => comparePacked(s.ids[a], s.ids[b]) || a - b);
  const k = s.scale ?? 1;
  const at = (i: number) => s.v[i] / k;
  const xs = order.map((i) => at(i * stride));
  const ys = order.map((i) => at(i * stride + 1));
  const labels = dbscan(xs, ys, opts);
  const members: number[][] = [];
  let noise = 0;
  labels.forEach((l, k) => {
    if (l < 0) noise++;
    else (members[l] ??= []).push(k);
  });
  const clusters = members.map((ks): Cluster => {
    const cx = ks.map((k) => xs[k]);
    const cy = ks.map((k) => ys[k]);
    const mx = mean(cx);
    const my = mean(cy);
    const c: Cluster = { x: mx, y: my, stdX: std(cx, mx), stdY: std(cy, my), count: ks.length };
    extra.forEach((f, e) => {
      const vals = ks.map((m) => at(order[m] * stride + 2 + e));
      if (f === 'angle') {
        // Axial mean: an ellipse at 10 degrees is the one at 190; average doubled angles on the circle.
        const sn = vals.reduce((a, d) => a + Math.sin((2 * d * Math.PI) / 180), 0);
        const cs = vals.reduce((a, d) => a + Math.cos((2 * d * Math.PI) / 180), 0);
        c.angle = (Math.atan2(sn, cs) * 90) / Math.PI;
      } else (c as unknown as Record<string, number>)[f] = mean(vals);
    });
    if (sky) c.sky = sky(mx, my);
    return c;
  });
  return { frame: s.frame, tool: s.tool, toolType: s.toolType, marks: s.ids.length, noise, clusters };
}

/** The reduction of accumulated mark sets. */
export function summariseDrawing(n: number, sets: Record<string, MarkSet>, opts: DbscanOptions, sky?: SkyMap): DrawingReduction {
  const tools = Object.values(sets)
    .sort((a, b) => a.frame - b.frame || a.tool - b.tool)
    .map((s) => clusterMarkSet(s, opts, sky));
  return { kind: 'drawing', classifications: n, tools };
}

/** Batch form: the extracts of one drawing task on one subject (already repeat-filtered). */
export function reduceDrawing(extracts: readonly DrawingExtract[], opts: DbscanOptions, sky?: SkyMap): DrawingReduction {
  const sets: Record<string, MarkSet> = Object.create(null) as Record<string, MarkSet>;
  for (const e of extracts) addMarks(sets, e.classificationId, e.marks);
  return summariseDrawing(extracts.length, sets, opts, sky);
}
