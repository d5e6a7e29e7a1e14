/**
 * The batch (full) reduction: every classification of a subject reduced in
 * one go, as `panoptes_aggregation extract` + `reduce` do. Classifications
 * may come in any order: repeat filtering sorts them (repeats.ts) and the
 * reducers see each subject's extracts in classification id order.
 *
 * This is a separate path from the running reducer on purpose: the tests
 * check that both give identical reductions.
 */
import { extractInto } from './extract.js';
import { reduceDrawing } from './reduce-drawing.js';
import { answerOrder, checkOptions, dbscanOptions, subjectKey, type ReduceOptions, type SubjectReduction, type TaskReduction } from './reduce-options.js';
import { reduceQuestion } from './reduce-question.js';
import { reduceSurvey } from './reduce-survey.js';
import { filterRepeats, type RepeatOrder } from './repeats.js';
import { resolveSwap, swapApply, swapResult, type SwapSubject, type VolunteerSkill } from './swap.js';
import { dict, type DrawingExtract, type Extract, type QuestionExtract, type RawClassification, type Skip, type SurveyExtract } from './types.js';
import { volunteerKey } from './volunteer.js';

export interface ReduceAllResult {
  subjects: SubjectReduction[];
  skipped: Skip[];
}

/** Reduces a whole set of classifications; `order` chooses what "first" and "last" mean. */
export function reduceAll(classifications: Iterable<RawClassification>, options: ReduceOptions = {}, order: RepeatOrder = 'id'): ReduceAllResult {
  checkOptions(options);
  const pairs: { classificationId: string; workflowId: string; subjectId: string; volunteer: string; createdAt: string; c: RawClassification }[] = [];
  for (const c of classifications) {
    const volunteer = volunteerKey(c);
    for (const subjectId of c.subjectIds) pairs.push({ classificationId: c.id, workflowId: c.workflowId, subjectId, volunteer, createdAt: c.createdAt, c });
  }
  const kept = filterRepeats(pairs, options.repeats ?? 'first', order);

  // Extract each kept classification once (skips are reported once per classification).
  const skipped: Skip[] = [];
  const extractsOf = new Map<RawClassification, Extract[]>();
  for (const p of kept) {
    if (extractsOf.has(p.c)) continue;
    const ex: Extract[] = [];
    extractInto(p.c, { tasks: options.workflows?.[p.c.workflowId] }, ex, skipped);
    extractsOf.set(p.c, ex);
  }
  // Classifications whose every subject was a repeat still had their annotations read: report their skips too.
  for (const p of pairs) {
    if (extractsOf.has(p.c)) continue;
    extractInto(p.c, { tasks: options.workflows?.[p.c.workflowId] }, [], skipped);
    extractsOf.set(p.c, []);
  }

  const bySubject = new Map<string, { workflowId: string; subjectId: string; n: number; tasks: Map<string, Extract[]> }>();
  for (const p of kept) {
    const key = subjectKey(p.workflowId, p.subjectId);
    let s = bySubject.get(key);
    if (!s) bySubject.set(key, (s = { workflowId: p.workflowId, subjectId: p.subjectId, n: 0, tasks: new Map() }));
    s.n++;
    for (const e of extractsOf.get(p.c)!) {
      if (e.subjectId !== p.subjectId) continue;
      const list = s.tasks.get(e.task);
      // A task keeps the kind it first had; a later extract of another kind is reported, not mixed in.
      if (list && list[0].kind !== e.kind) skipped.push({ classificationId: e.classificationId, task: e.task, reason: `task ${e.task} was a ${list[0].kind} task, now a ${e.kind}` });
      else if (list) list.push(e);
      else s.tasks.set(e.task, [e]);
    }
  }

  // SWAP runs over the kept classifications in id order, skills shared across subjects.
  const swapOpts = options.swap ? resolveSwap(options.swap) : undefined;
  const swapSubjects = new Map<string, SwapSubject>();
  if (swapOpts) {
    const volunteers = dict<VolunteerSkill>();
    for (const p of filterRepeats(kept, 'all', 'id')) {
      if (swapOpts.workflowId !== undefined && swapOpts.workflowId !== p.workflowId) continue;
      for (const e of extractsOf.get(p.c)!) {
        if (e.subjectId !== p.subjectId || e.task !== swapOpts.task || e.kind !== 'question') continue;
        const key = subjectKey(p.workflowId, p.subjectId);
        let s = swapSubjects.get(key);
        if (!s) swapSubjects.set(key, (s = { p: swapOpts.prior, n: 0, yes: 0 }));
        swapApply(s, volunteers, p.volunteer, p.subjectId, e.answers, swapOpts);
      }
    }
  }

  const dbscan = dbscanOptions(options);
  const subjects = [...bySubject.keys()].sort().map((key): SubjectReduction => {
    const s = bySubject.get(key)!;
    const tasks = dict<TaskReduction>();
    const sky = options.skyFor?.(s.subjectId);
    for (const task of [...s.tasks.keys()].sort()) {
      const list = s.tasks.get(task)!;
      if (list[0].kind === 'question') tasks[task] = reduceQuestion(list as QuestionExtract[], answerOrder(options, s.workflowId, task));
      else if (list[0].kind === 'survey') tasks[task] = reduceSurvey(list as SurveyExtract[]);
      else tasks[task] = reduceDrawing(list as DrawingExtract[], dbscan, sky);
    }
    const out: SubjectReduction = { workflowId: s.workflowId, subjectId: s.subjectId, classifications: s.n, tasks };
    const sw = swapSubjects.get(key);
    if (sw && swapOpts) out.swap = swapResult(sw, swapOpts, s.subjectId);
    return out;
  });
  return { subjects, skipped };
}
