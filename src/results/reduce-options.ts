/**
 * What the batch reduction (reduce-all.ts) and the running reduction
 * (running.ts) share: their options and the shape of a subject's results.
 */
import { DEFAULT_DBSCAN, type DbscanOptions } from './dbscan.js';
import type { DrawingReduction } from './reduce-drawing.js';
import type { QuestionReduction } from './reduce-question.js';
import type { SurveyReduction } from './reduce-survey.js';
import type { SwapOptions, SwapReduction } from './swap.js';
import type { Dict, RepeatMode, SkyMap, WorkflowTasks } from './types.js';

export interface ReduceOptions {
  /** Task definitions by workflow id: answer indices become labels, ties follow the workflow's answer order. */
  workflows?: Record<string, WorkflowTasks>;
  /** Repeat classifications of a subject by a volunteer: default "first". */
  repeats?: RepeatMode;
  /** DBSCAN parameters for every drawing task (defaults eps 5 px, minSamples 3, as panoptes_aggregation). */
  dbscan?: Partial<DbscanOptions>;
  /** SWAP on one yes/no question. Not available with repeats "last" (a replaced answer would already have trained skills). */
  swap?: SwapOptions;
  /** Display-pixel to sky mapping per subject, applied to cluster centres. */
  skyFor?: (subjectId: string) => SkyMap | undefined;
}

export type TaskReduction = QuestionReduction | SurveyReduction | DrawingReduction;

export interface SubjectReduction {
  workflowId: string;
  subjectId: string;
  /** Classifications kept after repeat filtering. */
  classifications: number;
  tasks: Dict<TaskReduction>;
  swap?: SwapReduction;
}

export const subjectKey = (workflowId: string, subjectId: string): string => `${workflowId}/${subjectId}`;

export function dbscanOptions(o: ReduceOptions): DbscanOptions {
  return { ...DEFAULT_DBSCAN, ...o.dbscan };
}

/** The workflow's answer labels of a question task, for tie-breaking. */
export function answerOrder(o: ReduceOptions, workflowId: string, task: string): string[] | undefined {
  return o.workflows?.[workflowId]?.[task]?.answers?.map((a) => a.label);
}

export function checkOptions(o: ReduceOptions): void {
  if (o.swap && o.repeats === 'last') throw new Error('SWAP cannot run with repeats "last": use "first" or "all"');
}
