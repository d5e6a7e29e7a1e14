import { AppError } from '../domain/errors.js';
import { evaluateCondition, ExpressionError, formatTrace, type TraceNode } from './caesar.js';
import { parseFacts, type PolicyFacts } from './facts.js';
import { policyRef, type EvaluationMode, type Policy, type PolicyEffect, type PolicyRule } from './policy-file.js';

/**
 * Applies a policy to one image's facts. How effects combine (also in
 * policies/README.md):
 * - any `reject`, or an image beyond a cap, rejects: nothing overrides a refusal;
 * - otherwise any `hold` keeps it in quarantine, out of review, until a fact
 *   changes (e.g. the Data Rights Panel approves): the PI sees it waiting,
 *   not refused, and the re-evaluation on that change decides again;
 * - otherwise any `require_review` makes it wait for a reviewer, even if
 *   another rule would auto-approve;
 * - otherwise any `auto_approve` approves it;
 * - otherwise it waits for a reviewer: silence never publishes.
 * `strip_coordinates` from any matched rule strips. Caps from all matched
 * rules combine by taking the smallest of each kind. `one_incomplete_set`
 * from any matched rule paces the image's upload: its subject set is only
 * started once the collection's previous set is complete.
 */

export type PolicyOutcome = 'rejected' | 'held' | 'auto_approved' | 'pending_review';

export interface PolicyStamp {
  name: string;
  version: string;
  /** sha256 of the policy file, hex. */
  digest: string;
  /** `name@version`, what to store with the verdict. */
  ref: string;
}

export interface MatchedRule {
  rule_id: string;
  description: string;
  effects: PolicyEffect[];
  /** The condition with looked-up values, one line per step. */
  explanation: string;
}

export interface PolicyCaps {
  max_per_batch?: number;
  max_per_collection?: number;
}

export interface PolicyVerdict {
  outcome: PolicyOutcome;
  /** Why, in words for the PI and reviewer; for `rejected`, every refusal. */
  reasons: string[];
  strip_coordinates: boolean;
  /** Upload in a new subject set only once the collection's previous set is complete. */
  one_incomplete_set: boolean;
  /** The caps that applied (the smallest of each kind among matched rules). */
  caps: PolicyCaps;
  matched: MatchedRule[];
  policy: PolicyStamp;
}

export interface RuleResult {
  rule_id: string;
  description: string;
  effects: PolicyEffect[];
  /**
   * Whether the verdict depended on this rule. False for rules after the
   * first match in `first_match` mode, or after a rule that failed; they are
   * still evaluated here so that `explain` shows what they would do.
   */
  reached: boolean;
  /** The condition's value; null if evaluation failed. */
  result: boolean | null;
  /** Reached and true: its effects are in the verdict. */
  matched: boolean;
  /** Evaluation failure (type error, division by zero...), naming the place in the condition. */
  error: string | null;
  trace: TraceNode | null;
  explanation: string;
}

export interface PolicyExplanation {
  policy: PolicyStamp;
  evaluation: EvaluationMode;
  facts: PolicyFacts;
  rules: RuleResult[];
  /** Null when a reached rule failed: then there is no verdict, only `error`. */
  verdict: PolicyVerdict | null;
  error: string | null;
}

/**
 * A rule failed at run time. The image gets no verdict (so it stays in
 * quarantine) rather than one computed without the failing rule.
 */
export class PolicyEvaluationError extends AppError {
  readonly code = 'policy_evaluation_failed';
}

export function policyStamp(policy: Policy): PolicyStamp {
  return { name: policy.name, version: policy.version, digest: policy.source.digest, ref: policyRef(policy) };
}

/** The verdict for one image; throws PolicyEvaluationError if a rule that decides fails. */
export function evaluatePolicy(policy: Policy, facts: PolicyFacts): PolicyVerdict {
  const checked = parseFacts(facts);
  const bindings = toBindings(policy, checked);
  const matched: Array<{ rule: PolicyRule; trace: TraceNode }> = [];
  for (const rule of policy.rules) {
    let outcome: { result: boolean; trace: TraceNode };
    try {
      outcome = evaluateCondition(rule.expr, bindings);
    } catch (e) {
      throw asPolicyError(policy, rule, e);
    }
    if (!outcome.result) continue;
    matched.push({ rule, trace: outcome.trace });
    if (policy.evaluation === 'first_match') break;
  }
  return combine(policy, checked, matched);
}

/** Every rule's result and trace, and the verdict they give (or the error that prevents one). */
export function explainEvaluation(policy: Policy, facts: PolicyFacts): PolicyExplanation {
  const checked = parseFacts(facts);
  const bindings = toBindings(policy, checked);
  const rules: RuleResult[] = [];
  const matched: Array<{ rule: PolicyRule; trace: TraceNode }> = [];
  let error: string | null = null;
  let stopped = false;
  for (const rule of policy.rules) {
    const base = { rule_id: rule.id, description: rule.description, effects: rule.effects, reached: !stopped };
    try {
      const { result, trace } = evaluateCondition(rule.expr, bindings);
      const isMatch = result && !stopped;
      rules.push({ ...base, result, matched: isMatch, error: null, trace, explanation: formatTrace(trace) });
      if (isMatch) {
        matched.push({ rule, trace });
        if (policy.evaluation === 'first_match') stopped = true;
      }
    } catch (e) {
      const err = asPolicyError(policy, rule, e);
      rules.push({ ...base, result: null, matched: false, error: err.message, trace: null, explanation: `error: ${err.message}` });
      if (!stopped) {
        error = err.message;
        stopped = true;
      }
    }
  }
  return {
    policy: policyStamp(policy),
    evaluation: policy.evaluation,
    facts: checked,
    rules,
    verdict: error === null ? combine(policy, checked, matched) : null,
    error,
  };
}

/** Plain text for `bridge policy explain`. */
export function formatExplanation(x: PolicyExplanation): string {
  const out: string[] = [];
  out.push(`Policy ${x.policy.ref} (sha256 ${x.policy.digest.slice(0, 12)}), evaluation: ${x.evaluation}`);
  if (x.verdict) {
    const v = x.verdict;
    out.push(`Outcome: ${v.outcome}`);
    for (const r of v.reasons) out.push(`  - ${r}`);
    out.push(`Coordinates: ${v.strip_coordinates ? 'stripped' : 'kept'}`);
    if (v.one_incomplete_set) out.push('Upload: one incomplete subject set at a time');
    const caps = Object.entries(v.caps).map(([k, n]) => `${k} ${n}`);
    out.push(`Caps: ${caps.length ? caps.join(', ') : 'none'}`);
  } else {
    out.push(`Outcome: none, evaluation failed (the image stays in quarantine)`);
    out.push(`  - ${x.error}`);
  }
  out.push('');
  for (const r of x.rules) {
    const status = r.error ? 'error' : r.matched ? 'matched' : !r.reached ? (r.result ? 'true, not reached' : 'no match, not reached') : 'no match';
    out.push(`[${status}] ${r.rule_id}: ${r.description}`);
    out.push(`    effects: ${r.effects.map(formatEffect).join('; ')}`);
    out.push(r.explanation.split('\n').map((l) => `    ${l}`).join('\n'));
  }
  return out.join('\n');
}

export function formatEffect(e: PolicyEffect): string {
  switch (e.action) {
    case 'reject':
    case 'hold':
      return `${e.action} (${JSON.stringify(e.reason)})`;
    case 'require_review':
    case 'auto_approve':
      return e.reason ? `${e.action} (${JSON.stringify(e.reason)})` : e.action;
    case 'strip_coordinates':
    case 'one_incomplete_set':
      return e.action;
    case 'cap':
      return `cap (${[e.max_per_batch !== undefined ? `max_per_batch ${e.max_per_batch}` : '', e.max_per_collection !== undefined ? `max_per_collection ${e.max_per_collection}` : ''].filter(Boolean).join(', ')})`;
  }
}

function toBindings(policy: Policy, facts: PolicyFacts): Record<string, unknown> {
  return { ...facts, params: policy.params };
}

function asPolicyError(policy: Policy, rule: PolicyRule, e: unknown): PolicyEvaluationError {
  const at = e instanceof ExpressionError ? e.message : `unexpected failure: ${(e as Error).message}`;
  return new PolicyEvaluationError(`${policy.source.file}: rule ${JSON.stringify(rule.id)}: ${at}`, { policy: policyRef(policy), rule_id: rule.id });
}

function combine(policy: Policy, facts: PolicyFacts, matched: Array<{ rule: PolicyRule; trace: TraceNode }>): PolicyVerdict {
  const rejects: string[] = [];
  const holds: string[] = [];
  const reviews: string[] = [];
  const approvals: string[] = [];
  let strip = false;
  let paced = false;
  const caps: PolicyCaps = {};
  const capRule: { max_per_batch?: string; max_per_collection?: string } = {};
  for (const { rule } of matched) {
    for (const e of rule.effects) {
      switch (e.action) {
        case 'reject':
          rejects.push(e.reason);
          break;
        case 'hold':
          holds.push(e.reason);
          break;
        case 'require_review':
          reviews.push(e.reason ?? `review required by rule "${rule.id}" (${rule.description})`);
          break;
        case 'auto_approve':
          approvals.push(e.reason ?? `approved by rule "${rule.id}" (${rule.description})`);
          break;
        case 'strip_coordinates':
          strip = true;
          break;
        case 'one_incomplete_set':
          paced = true;
          break;
        case 'cap':
          for (const k of ['max_per_batch', 'max_per_collection'] as const) {
            const n = e[k];
            if (n !== undefined && (caps[k] === undefined || n < caps[k])) {
              caps[k] = n;
              capRule[k] = rule.id;
            }
          }
          break;
      }
    }
  }
  const c = facts.counts;
  // Per-image: the first max_per_batch images of a batch pass, and the
  // collection's running total (already published + this image's place in
  // the batch) may reach but not pass max_per_collection; the 101st image
  // under a cap of 100 is refused, whatever order the batch is evaluated in.
  if (caps.max_per_batch !== undefined && c.batch_position > caps.max_per_batch) {
    rejects.push(
      `over the per-batch cap: image ${c.batch_position} of ${c.batch} in this batch, max_per_batch is ${caps.max_per_batch} (rule "${capRule.max_per_batch}")`,
    );
  }
  if (caps.max_per_collection !== undefined && c.collection_published + c.batch_position > caps.max_per_collection) {
    rejects.push(
      `over the per-collection cap: ${c.collection_published} already published + image ${c.batch_position} of this batch = ${c.collection_published + c.batch_position}, max_per_collection is ${caps.max_per_collection} (rule "${capRule.max_per_collection}")`,
    );
  }
  let outcome: PolicyOutcome;
  let reasons: string[];
  // A refusal also names what it would be held for: both stand in the PI's way.
  if (rejects.length > 0) [outcome, reasons] = ['rejected', [...rejects, ...holds]];
  else if (holds.length > 0) [outcome, reasons] = ['held', holds];
  else if (reviews.length > 0) [outcome, reasons] = ['pending_review', reviews];
  else if (approvals.length > 0) [outcome, reasons] = ['auto_approved', approvals];
  else [outcome, reasons] = ['pending_review', ['no rule approved or rejected the image, so it waits for a reviewer']];
  return {
    outcome,
    reasons,
    strip_coordinates: strip,
    one_incomplete_set: paced,
    caps,
    matched: matched.map(({ rule, trace }) => ({ rule_id: rule.id, description: rule.description, effects: rule.effects, explanation: formatTrace(trace) })),
    policy: policyStamp(policy),
  };
}
