/**
 * Extractors: one classification in, per (subject, task) one normalised
 * extract out, plus a named reason for everything that could not be read.
 *
 * - Question (single), question (multiple) and shortcut: `answers` is a list
 *   of labels. The API's stored form gives answer indices, the export CSV
 *   gives labels; with the workflow's tasks both come out as the label, so
 *   an API pull and an export of the same classification extract equally.
 *   Without tasks an index is kept as its decimal string.
 * - Survey: one SurveyMark per marked choice, sub-question answers always
 *   as lists. Choice and answer ids are kept as received (both forms use the
 *   ids); `filters` are ignored.
 * - Drawing: see extract-drawing.ts.
 * - Combo tasks (a value that is a list of inner annotations) are flattened.
 *
 * The task type is taken from the workflow's tasks, else the annotation's
 * `taskType` (newer classifier), else inferred from the value's shape.
 * Unknown task types and malformed annotations become Skips, never throws:
 * one bad annotation must not stop a million-row reduction. A classification
 * with several subjects gives each subject the same extracts.
 */
import { readMarks } from './extract-drawing.js';
import type { Extract, RawClassification, SkyMap, Skip, SurveyMark, WorkflowTasks } from './types.js';
import { volunteerKey } from './volunteer.js';

export interface ExtractOptions {
  /** The workflow's tasks; without them indices cannot become labels and types are inferred. */
  tasks?: WorkflowTasks;
  /** Display-pixel to sky mapping for a subject's image, applied to mark centres. */
  skyFor?: (subjectId: string) => SkyMap | undefined;
}

export interface ExtractResult {
  extracts: Extract[];
  skipped: Skip[];
}

type Obj = Record<string, unknown>;
type Family = 'single' | 'multiple' | 'survey' | 'drawing' | 'combo';

const FAMILY: Record<string, Family> = {
  single: 'single',
  multiple: 'multiple',
  shortcut: 'multiple',
  survey: 'survey',
  drawing: 'drawing',
  combo: 'combo',
};

/** Extracts every (subject, task) of one classification. */
export function extractClassification(c: RawClassification, options: ExtractOptions = {}): ExtractResult {
  const out: ExtractResult = { extracts: [], skipped: [] };
  extractInto(c, options, out.extracts, out.skipped);
  return out;
}

/** Same as extractClassification, appending to the caller's arrays (the running reducer's hot path). */
export function extractInto(c: RawClassification, options: ExtractOptions, extracts: Extract[], skipped: Skip[], volunteer: string = volunteerKey(c)): void {
  if (!Array.isArray(c.annotations)) {
    skipped.push({ classificationId: c.id, reason: 'annotations is not a list' });
    return;
  }
  if (c.subjectIds.length === 0) {
    skipped.push({ classificationId: c.id, reason: 'classification has no subject' });
    return;
  }
  for (const a of c.annotations) readAnnotation(c, volunteer, a, options, extracts, skipped, 0);
}

function readAnnotation(c: RawClassification, volunteer: string, a: unknown, options: ExtractOptions, extracts: Extract[], skipped: Skip[], depth: number): void {
  if (a === null || typeof a !== 'object' || Array.isArray(a)) {
    skipped.push({ classificationId: c.id, reason: 'annotation is not an object' });
    return;
  }
  const ann = a as Obj;
  const task = typeof ann.task === 'string' ? ann.task : undefined;
  if (!task) {
    skipped.push({ classificationId: c.id, reason: 'annotation has no task' });
    return;
  }
  const def = options.tasks?.[task];
  const declared = def?.type ?? (typeof ann.taskType === 'string' ? ann.taskType : undefined);
  const family = declared !== undefined ? FAMILY[declared] : inferFamily(ann.value);
  // (No closures here: this runs a few million times per export.)
  if (family === undefined) {
    skipped.push({ classificationId: c.id, task, reason: declared !== undefined ? `unknown task type "${declared}"` : 'cannot tell the task type from the value' });
    return;
  }
  const value = ann.value;
  const subjects = c.subjectIds;
  if (family === 'combo') {
    if (!Array.isArray(value) || depth > 0) skipped.push({ classificationId: c.id, task, reason: 'malformed combo task' });
    else for (const inner of value) readAnnotation(c, volunteer, inner, options, extracts, skipped, depth + 1);
    return;
  }
  if (family === 'single' || family === 'multiple') {
    const answers = readAnswers(value, family === 'multiple', def?.answers);
    if (typeof answers === 'string') {
      skipped.push({ classificationId: c.id, task, reason: answers });
      return;
    }
    for (let k = 0; k < subjects.length; k++) {
      extracts.push({ classificationId: c.id, workflowId: c.workflowId, subjectId: subjects[k], task, volunteer, createdAt: c.createdAt, kind: 'question', multiple: family === 'multiple', answers });
    }
    return;
  }
  if (family === 'survey') {
    const choices = readSurvey(value);
    if (typeof choices === 'string') {
      skipped.push({ classificationId: c.id, task, reason: choices });
      return;
    }
    for (let k = 0; k < subjects.length; k++) {
      extracts.push({ classificationId: c.id, workflowId: c.workflowId, subjectId: subjects[k], task, volunteer, createdAt: c.createdAt, kind: 'survey', choices });
    }
    return;
  }
  for (let k = 0; k < subjects.length; k++) {
    const { marks, problems } = readMarks(value, def, options.skyFor?.(subjects[k]));
    // A mark problem is the same for every subject of the classification: report it once.
    if (k === 0) for (const reason of problems) skipped.push({ classificationId: c.id, task, reason });
    if (!Array.isArray(value)) return;
    extracts.push({ classificationId: c.id, workflowId: c.workflowId, subjectId: subjects[k], task, volunteer, createdAt: c.createdAt, kind: 'drawing', marks });
  }
}

/** The family a value looks like when nothing declares it; undefined when it cannot be told. */
function inferFamily(v: unknown): Family | undefined {
  if (typeof v === 'number' || typeof v === 'string' || v === null) return 'single';
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const first = v[0] as unknown;
  if (typeof first === 'number' || typeof first === 'string') return 'multiple';
  if (first !== null && typeof first === 'object') {
    const o = first as Obj;
    if ('choice' in o) return 'survey';
    if ('task' in o) return 'combo';
    if ('x' in o || 'tool' in o || 'toolIndex' in o) return 'drawing';
  }
  return undefined;
}

function label(v: unknown, answers: { label: string }[] | undefined): string | { error: string } {
  if (typeof v === 'number') {
    if (!answers) return String(v);
    const a = Number.isInteger(v) ? answers[v] : undefined;
    return a ? a.label : { error: `answer index ${v} out of range` };
  }
  if (typeof v === 'string') return v;
  return { error: `answer is a ${v === null ? 'null' : typeof v}, not an index or a label` };
}

/** Labels of a question's value; a string result is the reason it could not be read. */
function readAnswers(value: unknown, multiple: boolean, answers: { label: string }[] | undefined): string[] | string {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : multiple ? undefined : [value];
  if (!list) return 'multiple-answer question value is not a list';
  if (!multiple && list.length > 1) return 'single-answer question has several answers';
  const out: string[] = [];
  for (const v of list) {
    const l = label(v, answers);
    if (typeof l !== 'string') return l.error;
    out.push(l);
  }
  return out;
}

function readSurvey(value: unknown): SurveyMark[] | string {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return 'survey value is not a list';
  const out: SurveyMark[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object' || typeof (item as Obj).choice !== 'string') return 'survey mark has no choice';
    const o = item as Obj;
    // A plain object is much faster than a null-prototype one; "__proto__" is defined, never assigned.
    const answers: Record<string, string[]> = {};
    if (o.answers !== undefined && o.answers !== null) {
      if (typeof o.answers !== 'object' || Array.isArray(o.answers)) return 'survey answers is not an object';
      const given = o.answers as Obj;
      for (const q of Object.keys(given)) {
        const a = given[q];
        let vals: string[];
        // A single answer (Panoptes gives single-answer sub-questions as a bare string) becomes a list of one directly.
        if (typeof a === 'string') vals = [a];
        else {
          vals = [];
          for (const v of Array.isArray(a) ? a : [a]) {
            if (typeof v === 'string') vals.push(v);
            else if (typeof v === 'number' || typeof v === 'boolean') vals.push(String(v));
            else return `survey answer to "${q}" is not a string`;
          }
        }
        if (q === '__proto__') Object.defineProperty(answers, q, { value: vals, enumerable: true, writable: true, configurable: true });
        else answers[q] = vals;
      }
    }
    out.push({ choice: o.choice as string, answers });
  }
  return out;
}
