/**
 * The running reduction's stored state (running.ts): its shape, and how a
 * stored value is read back. Reading rebuilds only what is keyed by data
 * (answers, choices, tasks, volunteers) as dictionaries that inherit
 * nothing, so an answer called "constructor" counts like any other; mark
 * lists and kept lists are copied flat, or taken as they are when the state
 * is adopted (the service's freshly read rows: no copy). Lists written
 * before ids were packed (volunteer.ts) are packed on the way in.
 */
import type { MarkSet } from './reduce-drawing.js';
import type { QuestionCounts } from './reduce-question.js';
import type { SurveyCounts } from './reduce-survey.js';
import type { SwapSubject, VolunteerSkill } from './swap.js';
import { dict, type Dict, type RepeatMode, type SurveyMark } from './types.js';
import { packId, readPackedList } from './volunteer.js';
import { KeptVolunteers } from './kept-volunteers.js';

export interface DrawingState {
  kind: 'drawing';
  n: number;
  sets: Dict<MarkSet>;
}

export type TaskState = QuestionCounts | SurveyCounts | DrawingState;

/** What a volunteer's counted classification contributed, per task (repeats "last" only). */
export type Contribution = string[] | SurveyMark[] | 1;

export interface SubjectState {
  workflowId: string;
  subjectId: string;
  n: number;
  /** "first"/"last": volunteer -> counted classification id (stored as a flat list, see KeptVolunteers). */
  kept?: KeptVolunteers;
  /** "last": volunteer -> task -> contribution. */
  contrib?: Dict<Dict<Contribution>>;
  /** "all": the highest classification id applied. */
  last?: string;
  tasks: Dict<TaskState>;
  swap?: SwapSubject;
}

export interface RunningState {
  version: 1;
  repeats: RepeatMode;
  subjects: Dict<SubjectState>;
  swapVolunteers: Dict<VolunteerSkill>;
  totals: {
    classifications: number;
    /** Repeats dropped by the repeat rule. */
    repeats: number;
    /** Not newer than what the state holds (re-delivered or out of order). */
    stale: number;
    skipped: number;
    /** Skip reason -> count. */
    reasons: Dict<number>;
  };
}

/** A stored state (parsed JSON) as the reducer works on it; with `own`, the value itself is reused and changed. */
export function readState(value: unknown, own: boolean): RunningState {
  if (!isObject(value) || value.version !== 1 || !isObject(value.subjects)) throw new Error('not a results state (version 1)');
  const subjects = dict<SubjectState>();
  const stored = value.subjects;
  for (const k in stored) if (Object.hasOwn(stored, k)) subjects[k] = reviveSubject(stored[k], k, own);
  return {
    version: 1,
    repeats: value.repeats as RepeatMode,
    subjects,
    swapVolunteers: toDicts(value.swapVolunteers ?? {}) as Dict<VolunteerSkill>,
    totals: toDicts(value.totals ?? { classifications: 0, repeats: 0, stale: 0, skipped: 0, reasons: {} }) as RunningState['totals'],
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Own keys of a parsed object, copied into a dictionary (values as they are). */
function copyDict<T>(v: unknown): Dict<T> {
  const out = dict<T>();
  if (isObject(v)) for (const k in v) if (Object.hasOwn(v, k)) out[k] = v[k] as T;
  return out;
}

/**
 * One stored subject, rebuilt field by field (the same fields, in the same
 * order, as newSubject makes, so V8 gives old and new subjects one shape).
 * Only what is keyed by data becomes a dictionary; mark lists and the kept
 * list are copied flat, or, when the state is adopted (`own`), taken as they
 * are and the parsed dictionaries made to inherit nothing in place. Lists
 * written before ids were packed are packed. This replaced a generic deep
 * copy of the whole state, which cost as much as parsing it.
 */
function reviveSubject(v: unknown, key: string, own: boolean): SubjectState {
  if (!isObject(v) || !isObject(v.tasks)) throw new Error(`not a results state: subject ${key} has no tasks`);
  const stored = v.tasks;
  const tasks = own ? inherit(stored) : dict<unknown>();
  // for-in rather than Object.keys (no array per subject): parsed JSON has no inherited enumerable keys.
  for (const t in stored) if (Object.hasOwn(stored, t)) tasks[t] = reviveTask(stored[t], key, t, own);
  const s: SubjectState = { workflowId: String(v.workflowId), subjectId: String(v.subjectId), n: Number(v.n), tasks: tasks as Dict<TaskState> };
  if (v.kept !== undefined) s.kept = KeptVolunteers.from(v.kept, own);
  if (v.contrib !== undefined) s.contrib = toDicts(v.contrib) as Dict<Dict<Contribution>>;
  if (v.last !== undefined) s.last = String(v.last);
  if (isObject(v.swap)) s.swap = { p: Number(v.swap.p), n: Number(v.swap.n), yes: Number(v.swap.yes) };
  return s;
}

/** The parsed object itself, made to inherit nothing (an adopted state: no copy). */
function inherit(v: Record<string, unknown>): Dict<unknown> {
  Object.setPrototypeOf(v, null);
  return v;
}

function reviveTask(t: unknown, key: string, task: string, own: boolean): TaskState {
  const asDict = own ? (v: unknown) => (isObject(v) ? (inherit(v) as Dict<number>) : dict<number>()) : copyDict<number>;
  if (isObject(t)) {
    if (t.kind === 'question') return { kind: 'question', multiple: t.multiple === true, n: Number(t.n), counts: asDict(t.counts) };
    if (t.kind === 'survey') {
      const choices = dict<{ count: number; answers: Dict<Dict<number>> }>();
      const stored = isObject(t.choices) ? t.choices : {};
      for (const c in stored) {
        if (!Object.hasOwn(stored, c)) continue;
        const choice = stored[c] as { count?: unknown; answers?: unknown };
        const answers = dict<Dict<number>>();
        if (isObject(choice.answers)) for (const q in choice.answers) if (Object.hasOwn(choice.answers, q)) answers[q] = asDict(choice.answers[q]);
        choices[c] = { count: Number(choice.count), answers };
      }
      return { kind: 'survey', n: Number(t.n), choices };
    }
    if (t.kind === 'drawing') {
      const sets = dict<MarkSet>();
      const stored = isObject(t.sets) ? t.sets : {};
      for (const k in stored) {
        if (!Object.hasOwn(stored, k)) continue;
        const m = stored[k] as MarkSet;
        if (!Array.isArray(m.v) || !Array.isArray(m.ids)) throw new Error(`not a results state: subject ${key}, task ${task} has a mark set without marks`);
        const ids = readPackedList(m.ids, own, packId);
        if (!ids) throw new Error(`not a results state: subject ${key}, task ${task} has a mark of no classification`);
        const set: MarkSet = { frame: m.frame, tool: m.tool, toolType: m.toolType, v: own ? m.v : m.v.slice(), ids };
        if (typeof m.scale === 'number') set.scale = m.scale;
        sets[k] = set;
      }
      return { kind: 'drawing', n: Number(t.n), sets };
    }
  }
  throw new Error(`not a results state: subject ${key}, task ${task} is of no known kind`);
}

/** Deep copy with every plain object as a dictionary that inherits nothing (for the small, data-keyed parts). */
function toDicts(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toDicts);
  if (v === null || typeof v !== 'object') return v;
  const out = dict<unknown>();
  // for-in rather than Object.keys (no array per object): parsed JSON has no inherited enumerable keys.
  for (const k in v) if (Object.hasOwn(v, k)) out[k] = toDicts((v as Record<string, unknown>)[k]);
  return out;
}
