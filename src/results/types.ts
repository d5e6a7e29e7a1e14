/**
 * Shared shapes of the results module (issue 14, the results loop).
 *
 * `RawClassification` is what the classification sources produce (the API
 * pull in src/adapters/panoptes and the export CSV reader here); everything
 * else is this module's own vocabulary: extracts (one classification's answer
 * to one task for one subject, normalised), skips (what could not be read and
 * why) and the reductions. The module is pure: no I/O except the export
 * reader, which takes any async iterable of chunks.
 */

/** One classification as received, from the API pull or an export row. Never a volunteer's IP. */
export interface RawClassification {
  id: string; // Panoptes classification id (numeric string; order = id order)
  workflowId: string;
  workflowVersion?: string;
  userId: string | null; // null for anonymous
  userName: string | null; // anonymous exports give 'not-logged-in-<hash>'
  createdAt: string; // ISO time
  subjectIds: string[];
  subjectData?: Record<string, Record<string, unknown>>; // export only: {"<subject id>": {"retired": ..., ...metadata incl. '#bridge_image_id'}}
  annotations: unknown[]; // as received: API 'stored form' uses answer indices; export CSV gives labels
  metadata?: Record<string, unknown>; // e.g. classifier_version "2.0"
  goldStandard?: boolean;
  expert?: boolean;
}
/** A workflow's task definitions (Panoptes workflow.tasks), enough to map answer indices to labels. */
export type WorkflowTasks = Record<string, { type: string; question?: string; answers?: { label: string }[]; tools?: { type: string; label?: string }[]; choices?: Record<string, { label?: string }>; questions?: Record<string, { answers?: Record<string, { label?: string }> }> ; [k: string]: unknown }>;

/** Maps a display pixel of one subject's image (origin top-left) to the sky; supplied by the caller from the image's WCS. */
export type SkyMap = (x: number, y: number) => { ra: number; dec: number };

/** What every extract carries: which classification, subject, task and volunteer it came from. */
export interface ExtractHeader {
  classificationId: string;
  workflowId: string;
  subjectId: string;
  task: string;
  /** Opaque volunteer key (see volunteer.ts). */
  volunteer: string;
  createdAt: string;
}

/** A question (single or multiple) or shortcut answer: labels when the tasks are known, else the value as received, as a string. */
export interface QuestionExtract extends ExtractHeader {
  kind: 'question';
  multiple: boolean;
  /** Empty when the volunteer left the question unanswered (still one classification of the task). */
  answers: string[];
}

/** One survey choice marked by the volunteer, with the sub-question answers. */
export interface SurveyMark {
  choice: string;
  answers: Record<string, string[]>;
}

export interface SurveyExtract extends ExtractHeader {
  kind: 'survey';
  /** Empty when the volunteer marked nothing (still one classification of the task). */
  choices: SurveyMark[];
}

export type ToolType = 'point' | 'circle' | 'ellipse' | 'rectangle';

/**
 * One drawn mark in display pixels. (x, y) is the mark's centre for every
 * tool type: for rectangles Panoptes gives the top-left corner, which the
 * extractor converts so that clustering and sky mapping see one convention.
 */
export interface Mark {
  tool: number;
  toolType: ToolType;
  frame: number;
  x: number;
  y: number;
  /** circle radius */
  r?: number;
  /** ellipse semi-axes and angle (degrees, as the classifier gives it) */
  rx?: number;
  ry?: number;
  angle?: number;
  /** rectangle size */
  width?: number;
  height?: number;
  /** The centre on the sky, when the caller gave a SkyMap for the subject. */
  sky?: { ra: number; dec: number };
}

export interface DrawingExtract extends ExtractHeader {
  kind: 'drawing';
  /** Empty when the volunteer drew nothing (still one classification of the task). */
  marks: Mark[];
}

export type Extract = QuestionExtract | SurveyExtract | DrawingExtract;

/** Something that could not be read, with where and why; counted, never thrown. */
export interface Skip {
  classificationId: string;
  task?: string;
  reason: string;
}

/** Repeat classifications of one subject by one volunteer in one workflow: which to keep. */
export type RepeatMode = 'first' | 'last' | 'all';

/** A null-prototype dictionary: keys come from volunteers and PIs ("__proto__" is a legal answer label). */
export type Dict<T> = Record<string, T>;

/**
 * An empty, frozen object with no prototype: the prototype of every Dict.
 * Nothing is inherited through it (no Object.prototype: "constructor",
 * "toString" and "__proto__" are plain keys, never accessors or methods),
 * and unlike Object.create(null), which V8 makes a hash-table ("dictionary
 * mode") object of several hundred bytes, an object with this prototype
 * starts as an ordinary compact object. A running reduction holds a dozen
 * small dictionaries per subject (answer counts, survey choices, mark sets):
 * this halves its memory.
 */
const NO_INHERITANCE: object = Object.freeze(Object.create(null) as object);

/** A fresh dictionary that inherits nothing (see NO_INHERITANCE). */
export function dict<T>(): Dict<T> {
  return Object.create(NO_INHERITANCE) as Dict<T>;
}
