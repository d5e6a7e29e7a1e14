/**
 * SWAP (Space Warps Analysis Pipeline, Marshall et al. 2016) for one yes/no
 * question: volunteers weighted by a skill learned on gold-standard subjects.
 *
 * Volunteer skill. Each volunteer k has a 2x2 confusion matrix summarised by
 *   S_yes = P("yes" | truth yes),  S_no = P("no" | truth no),
 * estimated from their classifications of gold subjects with a prior worth
 * `pseudoCount` classifications at `initialSkill` (0.5, i.e. no information):
 *   S_yes = (yesCorrect + pseudoCount * initialSkill) / (yesSeen + pseudoCount)
 *   S_no  = (noCorrect  + pseudoCount * initialSkill) / (noSeen  + pseudoCount)
 * where yesSeen counts their answers on gold "yes" subjects and yesCorrect
 * those that said "yes" (likewise for "no"). With pseudoCount > 0 a skill is
 * never 0 or 1, so one classification can never make a posterior certain.
 *
 * Subject posterior. Starts at `prior`; each classification by k updates it
 * by Bayes' rule with k's skill at that moment:
 *   said "yes": p' = S_yes p / (S_yes p + (1 - S_no)(1 - p))
 *   said "no":  p' = (1 - S_yes) p / ((1 - S_yes) p + S_no (1 - p))
 * On a gold subject the posterior is updated first, then the volunteer's
 * counts (so a classification is never judged with its own answer).
 * Status: "detected" when p >= detect, "rejected" when p <= reject, else
 * "undecided"; updates continue after a decision (retiring is the caller's).
 * Answers other than the configured yes and no labels are ignored.
 *
 * The result is order-dependent by nature (skills change as gold answers
 * come in): the batch and running reductions both process classifications
 * in id order, so they agree exactly.
 */

export interface SwapOptions {
  /** The yes/no question task, e.g. "T0". */
  task: string;
  /** Only this workflow's classifications (default: every workflow that has the task). */
  workflowId?: string;
  yes: string;
  no: string;
  /** Prior probability that a subject is a "yes" (Space Warps CFHTLS stage 1: 2e-4). */
  prior?: number;
  detect?: number;
  reject?: number;
  initialSkill?: number;
  pseudoCount?: number;
  /** The known answer of a gold-standard subject (true = yes), undefined for ordinary subjects. */
  goldTruth?: (subjectId: string) => boolean | undefined;
}

export type ResolvedSwapOptions = Required<Omit<SwapOptions, 'workflowId' | 'goldTruth'>> & Pick<SwapOptions, 'workflowId' | 'goldTruth'>;

export function resolveSwap(o: SwapOptions): ResolvedSwapOptions {
  return { prior: 2e-4, detect: 0.95, reject: 1e-7, initialSkill: 0.5, pseudoCount: 2, ...o };
}

/** A volunteer's record on gold subjects (JSON). */
export interface VolunteerSkill {
  yesSeen: number;
  yesCorrect: number;
  noSeen: number;
  noCorrect: number;
}

/** A subject's SWAP state (JSON). */
export interface SwapSubject {
  p: number;
  /** Classifications used (yes or no answers). */
  n: number;
  yes: number;
}

export type SwapStatus = 'detected' | 'rejected' | 'undecided';

export interface SwapReduction {
  probability: number;
  status: SwapStatus;
  classifications: number;
  /** The unweighted consensus beside it: share of "yes" among the yes/no answers. */
  yes_fraction: number;
  gold?: boolean;
}

export function skillOf(v: VolunteerSkill | undefined, o: ResolvedSwapOptions): { sYes: number; sNo: number } {
  const prior = o.pseudoCount * o.initialSkill;
  return {
    sYes: ((v?.yesCorrect ?? 0) + prior) / ((v?.yesSeen ?? 0) + o.pseudoCount),
    sNo: ((v?.noCorrect ?? 0) + prior) / ((v?.noSeen ?? 0) + o.pseudoCount),
  };
}

/** Bayes' update of a posterior by one answer from a volunteer of the given skill. */
export function bayes(p: number, saidYes: boolean, s: { sYes: number; sNo: number }): number {
  const a = saidYes ? s.sYes * p : (1 - s.sYes) * p;
  const b = saidYes ? (1 - s.sNo) * (1 - p) : s.sNo * (1 - p);
  return a + b === 0 ? p : a / (a + b);
}

/**
 * Applies one answer. `answers` are the question's labels from one
 * classification; returns false when it held neither yes nor no.
 */
export function swapApply(
  subject: SwapSubject,
  volunteers: Record<string, VolunteerSkill>,
  volunteer: string,
  subjectId: string,
  answers: readonly string[],
  o: ResolvedSwapOptions,
): boolean {
  const saidYes = answers.includes(o.yes);
  if (!saidYes && !answers.includes(o.no)) return false;
  subject.p = bayes(subject.p, saidYes, skillOf(volunteers[volunteer], o));
  subject.n += 1;
  if (saidYes) subject.yes += 1;
  const truth = o.goldTruth?.(subjectId);
  if (truth !== undefined) {
    const v = (volunteers[volunteer] ??= { yesSeen: 0, yesCorrect: 0, noSeen: 0, noCorrect: 0 });
    if (truth) {
      v.yesSeen += 1;
      if (saidYes) v.yesCorrect += 1;
    } else {
      v.noSeen += 1;
      if (!saidYes) v.noCorrect += 1;
    }
  }
  return true;
}

export function swapResult(s: SwapSubject, o: ResolvedSwapOptions, subjectId: string): SwapReduction {
  const status: SwapStatus = s.p >= o.detect ? 'detected' : s.p <= o.reject ? 'rejected' : 'undecided';
  const out: SwapReduction = { probability: s.p, status, classifications: s.n, yes_fraction: s.n > 0 ? s.yes / s.n : 0 };
  if (o.goldTruth?.(subjectId) !== undefined) out.gold = true;
  return out;
}
