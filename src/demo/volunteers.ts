/**
 * Simulated volunteers: synthetic Panoptes classifications with a known
 * truth, for `bridge demo` (src/cli/demo-results.ts), the results tests and
 * the results benchmark.
 *
 * Each subject has a true answer to a question (T0: Yes / No / Not sure), a
 * true survey choice with a true count (T1), and one or two true object
 * positions (T2, point tool). Volunteers have a skill (probability of
 * answering correctly, of choosing the right species and count, of marking a
 * true object) and a positional noise sigma in pixels; an unskilled answer is
 * uniform among the wrong ones and unskilled volunteers sometimes mark a
 * spurious point. Some volunteers are anonymous (API form: no user id and no
 * name; export form: 'not-logged-in-<hash>'), some classify a subject twice
 * (a repeat, with fresh answers, right after the first). A share of the
 * classifications come from the newer classifier (classifier_version "2.0":
 * toolIndex / toolType / taskType).
 *
 * Everything is deterministic in the seed, and streamable: classifications
 * are produced round by round (each round gives every subject one more
 * volunteer) with O(subjects) numbers of state, so the benchmark can write a
 * million rows without holding them.
 *
 * Two forms: `generateClassifications` gives the API's stored form (answer
 * indices); `toExportForm` turns one into what the CSV export carries
 * (labels, tool_label, task_label) and `exportCsvLine` writes it as a CSV
 * row (with a fake user_ip, which the reader must drop).
 */
import { rng } from '../imaging/synthetic.js';
import type { RawClassification, WorkflowTasks } from '../results/types.js';

export const WORKFLOW_ID = '2001';
export const ANSWERS = ['Yes', 'No', 'Not sure'] as const;
export const CHOICES = ['SPIRAL', 'ELLIPTICAL', 'MERGER', 'STAR'] as const;
export const HOWMANY = ['1', '2', '3'] as const;
export const IMAGE_SIZE = 400;

export const TASKS: WorkflowTasks = {
  T0: { type: 'single', question: 'Is it a merger?', answers: ANSWERS.map((label) => ({ label })) },
  T1: {
    type: 'survey',
    choices: Object.fromEntries(CHOICES.map((c) => [c, { label: c.toLowerCase() }])),
    questions: { HOWMANY: { answers: Object.fromEntries(HOWMANY.map((h) => [h, { label: h }])) } },
  },
  T2: { type: 'drawing', instruction: 'Mark the centre of each galaxy', tools: [{ type: 'point', label: 'Centre' }] },
};

/** The seeded generator of the imaging fixtures (mulberry32), so one seed names one set of volunteers. */
export const prng = rng;

function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface SubjectTruth {
  subjectId: string;
  /** Index into ANSWERS (0 or 1: the truth is never "Not sure"). */
  answer: number;
  choice: (typeof CHOICES)[number];
  howMany: (typeof HOWMANY)[number];
  points: { x: number; y: number }[];
}

export interface GeneratorOptions {
  seed: number;
  subjects: number;
  /** Distinct volunteers per subject. */
  perSubject: number;
  volunteers: number;
  /** Share of volunteers that are anonymous. */
  anonymous?: number;
  /** Probability that a classification is followed by a repeat from the same volunteer. */
  repeats?: number;
  /** Share of classifications from the newer classifier. */
  classifierV2?: number;
  /** Skill range [min, max) and noise range in pixels. */
  skill?: [number, number];
  sigma?: [number, number];
  firstId?: number;
}

export const subjectIdOf = (s: number) => String(100000 + s);

/** The truth of subject number s (derived from the seed alone, so it can be recomputed). */
export function truthOf(seed: number, s: number): SubjectTruth {
  const r = prng(seed * 7919 + s * 104729 + 1);
  const answer = r() < 0.3 ? 0 : 1;
  const choice = CHOICES[Math.floor(r() * CHOICES.length)];
  const howMany = HOWMANY[Math.floor(r() * HOWMANY.length)];
  const points = [{ x: 40 + r() * 140, y: 40 + r() * 320 }];
  if (r() < 0.5) points.push({ x: 220 + r() * 140, y: 40 + r() * 320 });
  return { subjectId: subjectIdOf(s), answer, choice, howMany, points };
}

export interface Volunteer {
  userId: string | null;
  /** Export name; anonymous volunteers get 'not-logged-in-<hash>'. */
  exportName: string;
  skill: number;
  sigma: number;
}

export function volunteersOf(o: GeneratorOptions): Volunteer[] {
  const r = prng(o.seed ^ 0x5eed);
  const [s0, s1] = o.skill ?? [0.6, 0.95];
  const [g0, g1] = o.sigma ?? [0.5, 2];
  return Array.from({ length: o.volunteers }, (_, v) => {
    const anon = r() < (o.anonymous ?? 0.1);
    const hash = Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0');
    return { userId: anon ? null : String(5000 + v), exportName: anon ? `not-logged-in-${hash}` : `volunteer${v}`, skill: s0 + (s1 - s0) * r(), sigma: g0 + (g1 - g0) * r() };
  });
}

const pickOther = (r: () => number, n: number, not: number) => {
  const k = Math.floor(r() * (n - 1));
  return k >= not ? k + 1 : k;
};

/** What one volunteer answers on one subject, in the API's stored form. */
function annotate(t: SubjectTruth, v: Volunteer, r: () => number, v2: boolean): unknown[] {
  const ok = () => r() < v.skill;
  const answer = ok() ? t.answer : pickOther(r, ANSWERS.length, t.answer);
  const ci = CHOICES.indexOf(t.choice);
  const choice = ok() ? t.choice : CHOICES[pickOther(r, CHOICES.length, ci)];
  const hi = HOWMANY.indexOf(t.howMany);
  const howMany = ok() ? t.howMany : HOWMANY[pickOther(r, HOWMANY.length, hi)];
  const marks: { x: number; y: number }[] = [];
  for (const p of t.points) if (ok()) marks.push({ x: p.x + v.sigma * gauss(r), y: p.y + v.sigma * gauss(r) });
  if (r() > v.skill && r() < 0.3) marks.push({ x: r() * IMAGE_SIZE, y: r() * IMAGE_SIZE });
  const survey = [{ choice, answers: { HOWMANY: howMany }, filters: {} }];
  if (v2) {
    return [
      { task: 'T0', taskType: 'single', value: answer },
      { task: 'T1', taskType: 'survey', value: survey },
      { task: 'T2', taskType: 'drawing', value: marks.map((m, k) => ({ toolIndex: 0, toolType: 'point', markIndex: k, frame: 0, x: m.x, y: m.y, details: [] })) },
    ];
  }
  return [
    { task: 'T0', value: answer },
    { task: 'T1', value: survey },
    { task: 'T2', value: marks.map((m) => ({ tool: 0, frame: 0, x: m.x, y: m.y, details: [] })) },
  ];
}

/** Classifications in id order, in the API's stored form or (same draws) the export's form. */
export function* generateClassifications(o: GeneratorOptions, form: 'api' | 'export' = 'api'): Generator<RawClassification> {
  const vols = volunteersOf(o);
  if (o.perSubject > vols.length) throw new Error('perSubject must not exceed volunteers');
  const r = prng(o.seed);
  const offsets = Array.from({ length: o.subjects }, () => Math.floor(r() * vols.length));
  let id = o.firstId ?? 400_000_000;
  const t0 = Date.UTC(2025, 0, 1);
  for (let round = 0; round < o.perSubject; round++) {
    for (let s = 0; s < o.subjects; s++) {
      const truth = truthOf(o.seed, s);
      const vi = (offsets[s] + round) % vols.length;
      const v = vols[vi];
      let times = 1;
      while (r() < (o.repeats ?? 0.05) && times < 3) times++;
      for (let k = 0; k < times; k++) {
        id++;
        const v2 = r() < (o.classifierV2 ?? 0.2);
        const c: RawClassification = {
          id: String(id),
          workflowId: WORKFLOW_ID,
          workflowVersion: '12.3',
          userId: v.userId,
          userName: v.userId ? v.exportName : null,
          createdAt: new Date(t0 + id * 1000 - 400_000_000_000).toISOString(),
          subjectIds: [truth.subjectId],
          annotations: annotate(truth, v, r, v2),
          metadata: { classifier_version: v2 ? '2.0' : '1.0', source: 'api', user_language: 'en' },
          goldStandard: false,
          expert: false,
        };
        yield form === 'api' ? c : toExportForm(c, v.exportName);
      }
    }
  }
}

/** The export's view of a stored-form classification: labels instead of indices, the anonymous name, the export's time format. */
export function toExportForm(c: RawClassification, exportName?: string): RawClassification {
  const annotations = c.annotations.map((a) => {
    const ann = a as { task: string; value: unknown; taskType?: string };
    if (ann.task === 'T0') return { ...ann, task_label: 'Is it a merger?', value: typeof ann.value === 'number' ? ANSWERS[ann.value] : ann.value };
    if (ann.task === 'T2' && Array.isArray(ann.value)) return { ...ann, value: ann.value.map((m: Record<string, unknown>) => ({ ...m, tool_label: 'Centre' })) };
    return ann;
  });
  return {
    ...c,
    userName: c.userName ?? exportName ?? null,
    annotations,
    createdAt: c.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    subjectData: Object.fromEntries(c.subjectIds.map((s) => [s, { retired: null, '#bridge_image_id': `img-${s}`, '#objectId': Number(s) * 17 }])),
  };
}

/** The export's columns, in Panoptes' order. */
export const EXPORT_COLUMNS = ['classification_id', 'user_name', 'user_id', 'user_ip', 'workflow_id', 'workflow_name', 'workflow_version', 'created_at', 'gold_standard', 'expert', 'metadata', 'annotations', 'subject_data', 'subject_ids'] as const;

/** RFC 4180 quoting: only when needed. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One export row (no line break) for an export-form classification, columns in `columns` order. */
export function exportCsvLine(c: RawClassification, columns: readonly string[] = EXPORT_COLUMNS): string {
  const cell = (k: string): string => {
    switch (k) {
      case 'classification_id': return c.id;
      case 'user_name': return c.userName ?? '';
      case 'user_id': return c.userId ?? '';
      case 'user_ip': return `ip-${(Number(c.id) * 2654435761) % 0xffffffff}`;
      case 'workflow_id': return c.workflowId;
      case 'workflow_name': return 'Mergers, "quick" look';
      case 'workflow_version': return c.workflowVersion ?? '';
      case 'created_at': return c.createdAt;
      case 'gold_standard': return c.goldStandard ? 'true' : '';
      case 'expert': return c.expert ? 'true' : '';
      case 'metadata': return JSON.stringify(c.metadata ?? {});
      case 'annotations': return JSON.stringify(c.annotations);
      case 'subject_data': return JSON.stringify(c.subjectData ?? {});
      case 'subject_ids': return c.subjectIds.join(';');
      default: return 'extra';
    }
  };
  return columns.map((k) => csvField(cell(k))).join(',');
}

/** A whole export as text (tests; the benchmark streams lines instead). */
export function exportCsvText(cs: Iterable<RawClassification>, columns: readonly string[] = EXPORT_COLUMNS): string {
  const lines = [columns.join(',')];
  for (const c of cs) lines.push(exportCsvLine(c, columns));
  return lines.join('\n') + '\n';
}
