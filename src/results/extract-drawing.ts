/**
 * Drawing-task extraction: one annotation's marks, normalised.
 *
 * Two shapes reach us and both are read:
 * - classic classifier (and its CSV export): `{tool, tool_label?, x, y, frame, details}`;
 * - the newer classifier (`metadata.classifier_version` "2.0"): `{toolIndex,
 *   toolType, markIndex, frame, x, y, details}` inside an annotation that
 *   also carries `taskType: "drawing"`.
 * The tool type comes from the workflow's tools when known, else from the
 * mark's `toolType`, else from its fields (r: circle, rx/ry: ellipse,
 * width/height: rectangle, otherwise point). Coordinates stay in display
 * pixels, origin top-left; rectangles are converted from top-left corner to
 * centre (see Mark). Unsupported tools (lines, polygons, ...) and unreadable
 * marks are skipped one by one with a reason; the other marks are kept.
 */
import type { Mark, SkyMap, ToolType, WorkflowTasks } from './types.js';

const SUPPORTED: ReadonlySet<string> = new Set(['point', 'circle', 'ellipse', 'rectangle']);

export interface MarksResult {
  marks: Mark[];
  /** One reason per unreadable mark. */
  problems: string[];
}

type Obj = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function inferType(m: Obj): string {
  if (typeof m.toolType === 'string') return m.toolType;
  if (m.rx !== undefined || m.ry !== undefined) return 'ellipse';
  if (m.r !== undefined) return 'circle';
  if (m.width !== undefined || m.height !== undefined) return 'rectangle';
  return 'point';
}

/** Reads the marks of one drawing annotation value; `sky` maps centres when given. */
export function readMarks(value: unknown, task: WorkflowTasks[string] | undefined, sky: SkyMap | undefined): MarksResult {
  const marks: Mark[] = [];
  const problems: string[] = [];
  if (!Array.isArray(value)) return { marks, problems: ['drawing value is not a list of marks'] };
  for (let i = 0; i < value.length; i++) {
    const m = value[i] as unknown;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      problems.push(`mark ${i} is not an object`);
      continue;
    }
    const o = m as Obj;
    const tool = num(o.toolIndex) ?? num(o.tool);
    if (tool === undefined || !Number.isInteger(tool) || tool < 0) {
      problems.push(`mark ${i} has no tool index`);
      continue;
    }
    const type = task?.tools?.[tool]?.type ?? inferType(o);
    if (!SUPPORTED.has(type)) {
      problems.push(`unsupported tool type "${type}"`);
      continue;
    }
    const x = num(o.x);
    const y = num(o.y);
    if (x === undefined || y === undefined) {
      problems.push(`mark ${i} has no numeric x/y`);
      continue;
    }
    const mark: Mark = { tool, toolType: type as ToolType, frame: num(o.frame) ?? 0, x, y };
    if (type === 'circle') {
      const r = num(o.r);
      if (r === undefined) {
        problems.push(`circle mark ${i} has no numeric r`);
        continue;
      }
      mark.r = r;
    } else if (type === 'ellipse') {
      const rx = num(o.rx);
      const ry = num(o.ry);
      if (rx === undefined || ry === undefined) {
        problems.push(`ellipse mark ${i} has no numeric rx/ry`);
        continue;
      }
      mark.rx = rx;
      mark.ry = ry;
      mark.angle = num(o.angle) ?? 0;
    } else if (type === 'rectangle') {
      const w = num(o.width);
      const h = num(o.height);
      if (w === undefined || h === undefined) {
        problems.push(`rectangle mark ${i} has no numeric width/height`);
        continue;
      }
      // A rectangle dragged up or left can have a negative size: the centre formula holds either way.
      mark.x = x + w / 2;
      mark.y = y + h / 2;
      mark.width = Math.abs(w);
      mark.height = Math.abs(h);
    }
    if (sky) mark.sky = sky(mark.x, mark.y);
    marks.push(mark);
  }
  return { marks, problems };
}
