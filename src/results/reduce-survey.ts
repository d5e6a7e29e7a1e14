/**
 * Survey reducer, as panoptes_aggregation's survey_reducer: per choice
 * marked on a subject,
 * - `total_vote_count`: classifications of the task on the subject,
 * - `choice_count`: how many times the choice was marked (one per mark: a
 *   volunteer who marks the same choice twice in one classification counts
 *   twice, as in panoptes_aggregation),
 * - `answers_<question>`: counts of each answer to the choice's
 *   sub-questions (a multiple-answer sub-question counts each answer).
 * Unlike panoptes_aggregation, choice and answer ids are not slugified: they
 * are reported as Panoptes gives them. Choices are listed most-marked
 * first, ties by id. The state is additive (see QuestionCounts).
 */
import { dict, type Dict, type SurveyExtract, type SurveyMark } from './types.js';

export interface SurveyChoiceReduction {
  choice: string;
  total_vote_count: number;
  choice_count: number;
  [answers: `answers_${string}`]: Dict<number>;
}

export interface SurveyReduction {
  kind: 'survey';
  classifications: number;
  choices: SurveyChoiceReduction[];
}

export interface SurveyCounts {
  kind: 'survey';
  n: number;
  /** choice -> [marks, {question -> {answer -> count}}] */
  choices: Dict<{ count: number; answers: Dict<Dict<number>> }>;
}

export function emptySurveyCounts(): SurveyCounts {
  return { kind: 'survey', n: 0, choices: dict() };
}

/** Adds (sign 1) or takes back (sign -1) one classification's survey marks. */
export function addSurvey(acc: SurveyCounts, marks: readonly SurveyMark[], sign: 1 | -1 = 1): void {
  acc.n += sign;
  for (const m of marks) {
    let c = acc.choices[m.choice];
    if (!c) c = acc.choices[m.choice] = { count: 0, answers: dict() };
    c.count += sign;
    // for-in rather than Object.keys: no array per mark (the answers are plain objects made by the extractor).
    for (const q in m.answers) {
      let qa = c.answers[q];
      if (!qa) qa = c.answers[q] = dict<number>();
      for (const a of m.answers[q]) {
        const v = (qa[a] ?? 0) + sign;
        if (v === 0) delete qa[a];
        else qa[a] = v;
      }
      // Only a take-back can empty it (and Object.keys allocates: skip it on the add path, run per mark).
      if (sign < 0 && Object.keys(qa).length === 0) delete c.answers[q];
    }
    if (c.count === 0) delete acc.choices[m.choice];
  }
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `answers_<question>`, built once per question: a name concatenated afresh
 * for every choice of every subject is a new string V8 must look up among
 * property names each time it is set (a tenth of the incremental step).
 */
const answerKeys = new Map<string, `answers_${string}`>();
function answersKey(q: string): `answers_${string}` {
  let k = answerKeys.get(q);
  if (k === undefined) {
    k = `answers_${q}`;
    if (answerKeys.size < 10_000) answerKeys.set(q, k);
  }
  return k;
}

export function summariseSurvey(acc: SurveyCounts): SurveyReduction {
  const ids = Object.keys(acc.choices).sort((a, b) => acc.choices[b].count - acc.choices[a].count || byId(a, b));
  const choices = ids.map((id) => {
    const c = acc.choices[id];
    const r: SurveyChoiceReduction = { choice: id, total_vote_count: acc.n, choice_count: c.count };
    for (const q of Object.keys(c.answers).sort(byId)) {
      const counts = dict<number>();
      const qa = c.answers[q];
      for (const a of Object.keys(qa).sort((x, y) => qa[y] - qa[x] || byId(x, y))) counts[a] = qa[a];
      r[answersKey(q)] = counts;
    }
    return r;
  });
  return { kind: 'survey', classifications: acc.n, choices };
}

/** Batch form: the extracts of one survey task on one subject (already repeat-filtered). */
export function reduceSurvey(extracts: readonly SurveyExtract[]): SurveyReduction {
  const acc = emptySurveyCounts();
  for (const e of extracts) addSurvey(acc, e.choices);
  return summariseSurvey(acc);
}
