/**
 * Question reducers, as panoptes_aggregation defines them, on additive counts
 * (so the batch and the running reduction share one summary):
 *
 * - counts per answer label, and fractions = count / number of
 *   classifications of the task (for a multiple-answer question the
 *   fractions may add up to more than 1);
 * - consensus (question_consensus_reducer): `most_likely` (the answer with
 *   most votes), `num_votes` (its votes), `agreement` = num_votes /
 *   total_votes, `total_votes` = number of classifications of the task.
 *   panoptes_aggregation divides by the summed votes instead; the two agree
 *   for single-answer questions that every classification answered, and
 *   differ for multiple-answer questions and skipped questions, where ours
 *   stays the fraction of volunteers who chose the answer.
 *   Ties: panoptes_aggregation takes the first answer it happened to see,
 *   which depends on arrival order. Ours is order-independent: among tied
 *   answers, the one listed first in the workflow's answers wins; answers
 *   not in the workflow (or without the tasks) come after, in code-unit
 *   string order.
 * - Pielou evenness J = H / ln S, H = -Σ p ln p over the answers' shares
 *   of the votes, S = number of distinct answers given. With one distinct
 *   answer ln S = 0 and J is undefined; like Snapshot Serengeti we report 0
 *   (unanimity is perfectly uneven, i.e. certain). With no votes it is null.
 */
import { dict, type Dict, type QuestionExtract } from './types.js';

export interface Consensus {
  most_likely: string | null;
  num_votes: number;
  agreement: number;
  total_votes: number;
}

export interface QuestionReduction {
  kind: 'question';
  multiple: boolean;
  /** Classifications of this task (the kept ones). */
  classifications: number;
  counts: Dict<number>;
  fractions: Dict<number>;
  consensus: Consensus;
  evenness: number | null;
}

/** Additive state of one question on one subject. */
export interface QuestionCounts {
  kind: 'question';
  multiple: boolean;
  n: number;
  counts: Dict<number>;
}

export function emptyQuestionCounts(multiple: boolean): QuestionCounts {
  return { kind: 'question', multiple, n: 0, counts: dict<number>() };
}

/** Adds (sign 1) or takes back (sign -1) one classification's answers. */
export function addQuestion(acc: QuestionCounts, answers: readonly string[], sign: 1 | -1 = 1): void {
  acc.n += sign;
  for (const a of answers) {
    const v = (acc.counts[a] ?? 0) + sign;
    if (v === 0) delete acc.counts[a];
    else acc.counts[a] = v;
  }
}

type Ranker = (a: string, b: string) => number;
/** One ranker per answer list: the running reduction summarises thousands of subjects with the same list. */
const rankers = new WeakMap<readonly string[], Ranker>();
const BY_STRING: Ranker = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** Orders answers for display and tie-breaking: more votes first, then workflow order, then string order. */
export function answerRanker(answerOrder: readonly string[] | undefined): Ranker {
  if (!answerOrder) return BY_STRING;
  let r = rankers.get(answerOrder);
  if (!r) rankers.set(answerOrder, (r = makeRanker(answerOrder)));
  return r;
}

function makeRanker(answerOrder: readonly string[]): Ranker {
  const rank = new Map<string, number>();
  answerOrder.forEach((l, i) => {
    if (!rank.has(l)) rank.set(l, i);
  });
  return (a, b) => {
    const ra = rank.get(a) ?? Number.POSITIVE_INFINITY;
    const rb = rank.get(b) ?? Number.POSITIVE_INFINITY;
    if (ra !== rb) return ra < rb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/** Pielou evenness of vote counts (zeros ignored); 0 for one distinct answer, null for none. */
export function pielouEvenness(counts: readonly number[]): number | null {
  const pos = counts.filter((c) => c > 0);
  if (pos.length === 0) return null;
  if (pos.length === 1) return 0;
  const total = pos.reduce((s, c) => s + c, 0);
  let h = 0;
  for (const c of pos) {
    const p = c / total;
    h -= p * Math.log(p);
  }
  return h / Math.log(pos.length);
}

/** The reduction of accumulated counts. */
export function summariseQuestion(acc: QuestionCounts, answerOrder?: readonly string[]): QuestionReduction {
  const tie = answerRanker(answerOrder);
  const labels = Object.keys(acc.counts).sort((a, b) => acc.counts[b] - acc.counts[a] || tie(a, b));
  const counts = dict<number>();
  const fractions = dict<number>();
  for (const l of labels) {
    counts[l] = acc.counts[l];
    fractions[l] = acc.n > 0 ? acc.counts[l] / acc.n : 0;
  }
  const top = labels[0];
  const numVotes = top === undefined ? 0 : acc.counts[top];
  return {
    kind: 'question',
    multiple: acc.multiple,
    classifications: acc.n,
    counts,
    fractions,
    consensus: { most_likely: top ?? null, num_votes: numVotes, agreement: acc.n > 0 ? numVotes / acc.n : 0, total_votes: acc.n },
    evenness: pielouEvenness(labels.map((l) => acc.counts[l])),
  };
}

/** Batch form: the extracts of one question on one subject (already repeat-filtered). */
export function reduceQuestion(extracts: readonly QuestionExtract[], answerOrder?: readonly string[]): QuestionReduction {
  const acc = emptyQuestionCounts(extracts[0]?.multiple ?? false);
  for (const e of extracts) addQuestion(acc, e.answers);
  return summariseQuestion(acc, answerOrder);
}
