import { evaluateCondition, ExpressionError, lookupPath, type Expr, type JsonValue } from '../policies/caesar.js';
import type { SubjectReduction } from '../results/index.js';
import type { Repositories } from './ports/repositories.js';
import type { ResultEffectRecord, NewResultEffect } from './ports/result-effects-repository.js';
import type { StoredReduction } from './ports/results-rules-repository.js';
import { NotFoundError } from './errors.js';
import { reductionsMadeWith } from './results-reduce.js';
import { bindingsFor, describeEffect, effectTarget, onceKey, parseResultsRules, type ResultEffect, type ResultRule, type ResultsRules } from './results-rules.js';

/**
 * Evaluating a collection's results rules on its reductions: which subjects
 * each rule holds for, what it read, and which of its effects are new (not
 * yet in the ledger). Shared by the real run (results-effects.ts), which
 * records the new ones, and the dry run below, which only reports them.
 */

type Recorded = Pick<ResultEffectRecord, 'id' | 'workflow_id' | 'subject_id' | 'kind' | 'target' | 'state' | 'rule_id'>;

export interface RuleMatch {
  rule: ResultRule;
  reduction: StoredReduction;
  /** The values the condition looked up, by path. */
  values: Record<string, JsonValue | null>;
  /** Effects not in the ledger yet. */
  fresh: { effect: ResultEffect; target: string }[];
  /** Effects already in the ledger (any state). */
  recorded: Recorded[];
}

export interface EvaluationProblem {
  ruleId: string;
  subjectId: string;
  workflowId: string;
  message: string;
}

export interface Evaluation {
  matches: RuleMatch[];
  problems: EvaluationProblem[];
  /** Reductions the rules were evaluated on. */
  subjects: number;
}

const key = onceKey;

/**
 * Evaluates every rule on every reduction. A subject counts as retired for
 * the `retired` binding when a retirement of it is done in the ledger. A
 * condition that fails on one subject (a value of an unexpected type) is
 * reported, not thrown: one odd subject must not stop the others.
 */
export function evaluateRules(rules: ResultsRules, reductions: readonly StoredReduction[], ledger: readonly Recorded[]): Evaluation {
  const byKey = new Map<string, Recorded>();
  const retired = new Set<string>();
  for (const r of ledger) {
    byKey.set(key(r.workflow_id, r.subject_id, r.kind, r.target), r);
    if (r.kind === 'retire_subject' && r.state === 'done') retired.add(`${r.workflow_id}/${r.subject_id}`);
  }
  const matches: RuleMatch[] = [];
  const problems: EvaluationProblem[] = [];
  let subjects = 0;
  for (const red of reductions) {
    if (rules.workflow !== undefined && red.workflow_id !== rules.workflow) continue;
    subjects++;
    const reduction = red.result as unknown as SubjectReduction;
    for (const rule of rules.rules) {
      const bindings = bindingsFor(rule, reduction, retired.has(`${red.workflow_id}/${red.subject_id}`));
      let holds: boolean;
      try {
        holds = evaluateCondition(rule.expr, bindings).result;
      } catch (e) {
        if (!(e instanceof ExpressionError)) throw e;
        problems.push({ ruleId: rule.id, subjectId: red.subject_id, workflowId: red.workflow_id, message: e.message });
        continue;
      }
      if (!holds) continue;
      const values: Record<string, JsonValue | null> = {};
      for (const path of lookupsOf(rule.expr)) {
        const v = lookupPath(bindings, path);
        values[path] = v.present ? v.value : null;
      }
      const fresh: RuleMatch['fresh'] = [];
      const recorded: Recorded[] = [];
      for (const effect of rule.effects) {
        const target = effectTarget(effect, rule.id);
        const k = key(red.workflow_id, red.subject_id, effect.kind, target);
        const have = byKey.get(k);
        if (have) recorded.push(have);
        else fresh.push({ effect, target });
      }
      matches.push({ rule, reduction: red, values, fresh, recorded });
    }
  }
  return { matches, problems, subjects };
}

/** The ledger rows a match's new effects become. A later rule does not record what an earlier one already will. */
export function intentsOf(collectionId: string, matches: readonly RuleMatch[]): NewResultEffect[] {
  const seen = new Set<string>();
  const out: NewResultEffect[] = [];
  for (const m of matches) {
    for (const { effect, target } of m.fresh) {
      const k = key(m.reduction.workflow_id, m.reduction.subject_id, effect.kind, target);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({
        collectionId,
        workflowId: m.reduction.workflow_id,
        subjectId: m.reduction.subject_id,
        imageId: m.reduction.image_id,
        ruleId: m.rule.id,
        kind: effect.kind,
        target,
        detail: { ...effectDetail(effect), values: m.values },
      });
    }
  }
  return out;
}

function effectDetail(e: ResultEffect): Record<string, unknown> {
  switch (e.kind) {
    case 'retire_subject':
      return { reason: e.reason };
    case 'add_subject_to_set':
      return { subjectSetId: e.subjectSetId };
    case 'notify':
      return e.message ? { message: e.message } : {};
    case 'flag':
      return { label: e.label };
  }
}

/** Paths a condition looks up (outside any/all's own key and value). */
/** Whether a rule's condition reads the `retired` binding, which changes with the effects ledger rather than with the reduction. */
export function readsRetired(rules: ResultsRules): boolean {
  return rules.rules.some((r) => [...lookupsOf(r.expr)].some((p) => p === 'retired' || p.startsWith('retired.')));
}

function lookupsOf(expr: Expr, out: Set<string> = new Set()): Set<string> {
  switch (expr.op) {
    case 'lookup':
      if (expr.path !== 'key' && expr.path !== 'value' && !expr.path.startsWith('value.')) out.add(expr.path);
      break;
    case 'const':
      break;
    case 'not':
    case 'upcase':
    case 'downcase':
    case 'int':
    case 'to_i':
    case 'float':
    case 'to_f':
      lookupsOf(expr.arg, out);
      break;
    case 'any':
    case 'all':
      out.add(expr.path);
      lookupsOf(expr.body, out);
      break;
    default:
      for (const a of expr.args) lookupsOf(a, out);
  }
  return out;
}

// ------------------------------------------------------------------ dry run

export interface DryRunRule {
  id: string;
  description: string | null;
  task: string | null;
  effects: string[];
  /** Subjects the rule holds for, with what is new and what the ledger already has. */
  subjects: {
    imageId: string;
    subjectId: string;
    workflowId: string;
    values: Record<string, JsonValue | null>;
    wouldDo: string[];
    alreadyRecorded: { effectId: string; kind: string; state: string }[];
  }[];
  /** Effects the rule would record now. */
  wouldDo: number;
}

export interface DryRunReport {
  name: string;
  version: string;
  digest: string;
  workflow: string | null;
  subjectsEvaluated: number;
  rules: DryRunRule[];
  problems: EvaluationProblem[];
  warnings: string[];
}

/** At most this many subjects are listed per rule (the counts cover them all). */
const LISTED_SUBJECTS = 500;

/**
 * What the rules (the given text, or the stored file) would do now on the
 * collection's current reductions, writing nothing: per rule the subjects it
 * holds for, the values it read, and which effects are new or already in
 * the ledger.
 */
export async function dryRunResultRules(d: { repos: Repositories }, collectionId: string, source?: string): Promise<DryRunReport> {
  let text = source;
  if (text === undefined) {
    const stored = await d.repos.resultsRules.get(collectionId);
    if (!stored) throw new NotFoundError('this collection has no results rules yet: send a file, or store one first');
    text = stored.source;
  }
  const rules = parseResultsRules(text, 'results rules');
  const [reductions, ledger] = await Promise.all([d.repos.resultsRules.reductionsOf(collectionId, rules.workflow), d.repos.resultEffects.allOf(collectionId)]);
  const ev = evaluateRules(rules, reductions, ledger);
  const fresh = new Set(intentsOf(collectionId, ev.matches).map((i) => key(i.workflowId, i.subjectId, i.kind, i.target)));
  const out: DryRunRule[] = rules.rules.map((r) => ({ id: r.id, description: r.description, task: r.task ?? null, effects: r.effects.map(describeEffect), subjects: [], wouldDo: 0 }));
  const byId = new Map(out.map((r) => [r.id, r]));
  for (const m of ev.matches) {
    const r = byId.get(m.rule.id)!;
    const wouldDo = m.fresh.filter((f) => fresh.delete(key(m.reduction.workflow_id, m.reduction.subject_id, f.effect.kind, f.target))).map((f) => describeEffect(f.effect));
    r.wouldDo += wouldDo.length;
    if (r.subjects.length < LISTED_SUBJECTS) {
      r.subjects.push({
        imageId: m.reduction.image_id,
        subjectId: m.reduction.subject_id,
        workflowId: m.reduction.workflow_id,
        values: m.values,
        wouldDo,
        alreadyRecorded: m.recorded.map((x) => ({ effectId: x.id, kind: x.kind, state: x.state })),
      });
    }
  }
  const warnings: string[] = [];
  const retiring = out.filter((r) => rules.rules.find((x) => x.id === r.id)!.effects.some((e) => e.kind === 'retire_subject'));
  if (retiring.length) warnings.push(`retirement cannot be undone through the Panoptes API (rules ${retiring.map((r) => r.id).join(', ')}): a retired subject leaves the workflow for good`);
  if (ev.subjects === 0) warnings.push(rules.workflow !== undefined ? `no reductions of workflow ${rules.workflow} yet: nothing to evaluate` : 'no reductions yet: nothing to evaluate');
  if (ev.problems.length) warnings.push(`${ev.problems.length} evaluation(s) failed (listed in problems); those subjects are left alone`);
  const settings = rules.workflow === undefined ? { ...rules.reduce } : { ...rules.reduce, workflow: rules.workflow };
  if (!(await reductionsMadeWith(d.repos, collectionId, settings))) {
    warnings.push(
      source === undefined
        ? "the current reductions were made with other reduce settings than the stored file's (repeats, DBSCAN, SWAP or workflow); they are being recomputed: dry-run again once GET .../results/status shows the reduction caught up"
        : "the current reductions were made with other reduce settings than this file's (repeats, DBSCAN, SWAP or workflow): the numbers above are the current ones; storing the file recomputes them, and a dry run after that shows the file's own",
    );
  }
  return { name: rules.name, version: rules.version, digest: rules.digest, workflow: rules.workflow ?? null, subjectsEvaluated: ev.subjects, rules: out, problems: ev.problems.slice(0, 100), warnings };
}
