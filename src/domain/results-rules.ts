import { createHash } from 'node:crypto';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { isRetirementRequest, RETIREMENT_REASONS, type RetirementRequest } from './ports/zooniverse-effects.js';
import { compileExpression, KIND, type Bindings, type Expr, type JsonValue, type TypeShape } from '../policies/caesar.js';
import { formatPath, issuePath, lineAt, valueAt } from '../policies/policy-file.js';
import type { SubjectReduction, TaskReduction } from '../results/index.js';

/**
 * A collection's results rules (format in policies/README.md, "Results
 * rules"): how its volunteers' classifications are reduced, and what is done
 * once a subject's reduction meets a condition (retire it, add it to a set,
 * tell the PI, flag it). Checked as a whole when it is stored, like the
 * data-rights policy: an effect on Zooniverse that a typo turned on (or a
 * condition that silently never matches) is worse than a refused file.
 *
 * Conditions are Caesar's language (src/policies/caesar.ts), checked against
 * the bindings below, so a lookup of a path that does not exist is refused
 * at load with its line.
 */

export type RepeatsSetting = 'first' | 'last' | 'all';

export interface ReduceSettings {
  repeats: RepeatsSetting;
  dbscan?: { eps?: number; minSamples?: number };
  swap?: { task: string; yes: string; no: string; prior?: number; detect?: number; reject?: number };
}

export type ResultEffect =
  | { kind: 'retire_subject'; reason: RetirementRequest }
  | { kind: 'add_subject_to_set'; subjectSetId: string }
  | { kind: 'notify'; message?: string }
  | { kind: 'flag'; label: string };

export type ResultEffectKind = ResultEffect['kind'];

export interface ResultRule {
  id: string;
  description: string | null;
  /** The task whose reduction the condition reads; without one only classifications, swap.* and retired. */
  task?: string;
  /** The condition as written, for display. */
  condition: JsonValue;
  /** The checked condition. */
  expr: Expr;
  effects: ResultEffect[];
}

export interface ResultsRules {
  name: string;
  version: string;
  description: string | null;
  /** Only this workflow's reductions are acted on (default: every workflow of the project). */
  workflow?: string;
  reduce: ReduceSettings;
  rules: ResultRule[];
  /** sha256 of the source text, hex. */
  digest: string;
  /** How messages name the file. */
  label: string;
}

/** One problem in a results rules file. */
export interface ResultsRulesIssue {
  /** Rule id (or `#<index>` if it has none). */
  rule?: string;
  /** Place inside the rule or file, e.g. `condition[1][2]` or `effects[0].retire_subject.reason`. */
  at?: string;
  /** 1-based line, when known. */
  line?: number;
  message: string;
}

export function formatResultsRulesIssue(label: string, i: ResultsRulesIssue): string {
  const where = [i.rule !== undefined ? `rule ${JSON.stringify(i.rule)}` : undefined, i.at].filter(Boolean).join(': ');
  return `${label}: ${i.line ? `line ${i.line}: ` : ''}${where ? `${where}: ` : ''}${i.message}`;
}

/** A results rules file that cannot be used: one line per problem, each with its line and rule. */
export class ResultsRulesError extends ValidationError {
  constructor(
    readonly label: string,
    readonly issues: ResultsRulesIssue[],
  ) {
    super(issues.map((i) => formatResultsRulesIssue(label, i)).join('\n'), { file: label, issues: issues.map((i) => formatResultsRulesIssue(label, i)) });
  }
}

export function resultsRulesDigest(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

// ------------------------------------------------------------------ bindings

const NUM: TypeShape = { kinds: KIND.number };
const NUM_OR_NULL: TypeShape = { kinds: KIND.number | KIND.null };
const STR_OR_NULL: TypeShape = { kinds: KIND.string | KIND.null };
/** Keys chosen by the workflow (answer labels, survey choices, tool indexes): any field may exist. */
const OPEN: TypeShape = { kinds: KIND.object };

const SUBJECT_FIELDS: Record<string, TypeShape> = {
  classifications: NUM,
  swap: { kinds: KIND.object, fields: { probability: NUM_OR_NULL, status: STR_OR_NULL } },
  retired: { kinds: KIND.boolean },
};

/** What a condition of a rule with a task may look up (rules-format: the bindings). */
export const TASK_BINDINGS_SHAPE: TypeShape = {
  kinds: KIND.object,
  fields: {
    ...SUBJECT_FIELDS,
    consensus: { kinds: KIND.object, fields: { most_likely: STR_OR_NULL, num_votes: NUM, agreement: NUM, total_votes: NUM } },
    votes: OPEN,
    fractions: OPEN,
    evenness: NUM_OR_NULL,
    survey: OPEN,
    clusters: OPEN,
  },
};
/** A rule without a task reads only what belongs to the subject as a whole. */
export const SUBJECT_BINDINGS_SHAPE: TypeShape = { kinds: KIND.object, fields: SUBJECT_FIELDS };

/**
 * The values a rule's condition sees for one subject. `classifications` is
 * the task's count of kept classifications (the subject's without a task); a
 * task the subject has no reduction for reads as nothing counted (zero votes,
 * agreement 0, most_likely null).
 */
export function bindingsFor(rule: Pick<ResultRule, 'task'>, reduction: SubjectReduction, retired: boolean): Bindings {
  const swap = { probability: reduction.swap?.probability ?? null, status: reduction.swap?.status ?? null };
  if (rule.task === undefined) return { classifications: reduction.classifications, swap, retired };
  const t: TaskReduction | undefined = reduction.tasks[rule.task];
  const out = {
    classifications: t ? t.classifications : 0,
    swap,
    retired,
    consensus: { most_likely: null as string | null, num_votes: 0, agreement: 0, total_votes: 0 },
    votes: {} as Record<string, number>,
    fractions: {} as Record<string, number>,
    evenness: null as number | null,
    survey: {} as Record<string, { count: number; total_vote_count: number }>,
    clusters: {} as Record<string, { count: number; clusters: number; marks: number }>,
  };
  if (t?.kind === 'question') {
    out.consensus = { ...t.consensus };
    out.votes = { ...t.counts };
    out.fractions = { ...t.fractions };
    out.evenness = t.evenness;
  } else if (t?.kind === 'survey') {
    for (const c of t.choices) out.survey[c.choice] = { count: c.choice_count, total_vote_count: c.total_vote_count };
  } else if (t?.kind === 'drawing') {
    // One entry per tool index; frames of the same tool add up.
    for (const tool of t.tools) {
      const key = String(tool.tool);
      const cur = out.clusters[key] ?? { count: 0, clusters: 0, marks: 0 };
      cur.count += tool.clusters.length;
      cur.clusters += tool.clusters.length;
      cur.marks += tool.marks;
      out.clusters[key] = cur;
    }
  }
  return out;
}

// -------------------------------------------------------------------- schema

const SLUG = /^[a-z0-9][a-z0-9_.-]*$/;
const slug = (what: string) => z.string({ error: `${what} must be a string` }).regex(SLUG, `${what} must be lower case letters, digits, "-", "_" or "." (e.g. "retire-on-consensus")`);
const panoptesId = (what: string) =>
  z
    .union([z.string(), z.int()], { error: `${what} must be a Panoptes id such as "4321"` })
    .transform(String)
    .pipe(z.string().regex(/^\d{1,18}$/, `${what} must be a Panoptes id: digits only, such as "4321"`));
const text = (what: string) => z.string({ error: `${what} must be a string` }).trim().min(1, `${what} must not be empty`);
const probability = (what: string) => z.number({ error: `${what} must be a number` }).gt(0, `${what} must be above 0`).lt(1, `${what} must be below 1`);
const answer = (what: string) => z.union([z.string(), z.number(), z.boolean()], { error: `${what} must be the answer's label` }).transform(String);

const effectSchema = z
  .strictObject(
    {
      retire_subject: z.strictObject({
        reason: z
          .string({ error: `reason must be one of ${RETIREMENT_REASONS.join(', ')}` })
          .refine(isRetirementRequest, `reason must be one of ${RETIREMENT_REASONS.join(', ')} (Panoptes refuses anything else)`)
          .default('other'),
      }),
      add_subject_to_set: z.strictObject({ subject_set_id: panoptesId('subject_set_id') }),
      notify: z.strictObject({ message: text('message').optional() }).nullable(),
      flag: z.strictObject({ label: text('label').max(80, 'label must be at most 80 characters') }),
    },
    { error: 'an effect must be one of retire_subject, add_subject_to_set, notify, flag' },
  )
  .partial()
  .refine((e) => Object.keys(e).length === 1, 'each effect names exactly one of retire_subject, add_subject_to_set, notify, flag (write several as several list items)');

const fileSchema = z.strictObject({
  name: slug('name'),
  version: z.union([z.string(), z.number()], { error: 'version must be a string such as "1" (quote it in YAML)' }).transform(String),
  description: z.string().optional(),
  workflow: panoptesId('workflow').optional(),
  reduce: z
    .strictObject({
      repeats: z.enum(['first', 'last', 'all'], { error: 'repeats must be "first", "last" or "all"' }).default('first'),
      dbscan: z
        .strictObject({
          eps: z.number({ error: 'eps must be a number of display pixels' }).positive('eps must be above 0').optional(),
          minSamples: z.int({ error: 'minSamples must be a whole number' }).positive('minSamples must be at least 1').optional(),
        })
        .optional(),
      swap: z
        .strictObject({
          task: text('task'),
          yes: answer('yes'),
          no: answer('no'),
          prior: probability('prior').optional(),
          detect: probability('detect').optional(),
          reject: probability('reject').optional(),
        })
        .optional(),
    })
    .default({ repeats: 'first' }),
  rules: z
    .array(
      z.strictObject({
        id: slug('id'),
        description: z.string().optional(),
        task: text('task').optional(),
        condition: z.unknown(),
        effects: z.array(effectSchema, { error: 'effects must be a list' }).min(1, 'a rule needs at least one effect'),
      }),
      { error: 'rules must be a list' },
    )
    .min(1, 'a results rules file needs at least one rule'),
});

// -------------------------------------------------------------------- parser

/** Checks and compiles a results rules file (YAML, or JSON which YAML reads too); throws ResultsRulesError listing every problem. */
export function parseResultsRules(source: string, label = 'results rules'): ResultsRules {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ResultsRulesError(label, doc.errors.map((e) => ({ line: lines.linePos(e.pos[0]).line, message: `not valid YAML: ${e.message.split('\n')[0]}` })));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ResultsRulesError(label, [{ message: `not valid YAML: ${(e as Error).message}` }]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ResultsRulesError(label, [{ line: 1, message: 'expected a mapping with name, version, reduce and rules' }]);
  }
  const lineOf = (path: Array<string | number>) => lineAt(doc, lines, path);
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) throw new ResultsRulesError(label, parsed.error.issues.map((i) => schemaIssue(data, i, lineOf)));
  const file = parsed.data;

  const issues: ResultsRulesIssue[] = [];
  if (file.reduce.swap && file.reduce.repeats === 'last') {
    issues.push({ at: 'reduce.swap', line: lineOf(['reduce', 'swap']), message: 'SWAP cannot run with repeats "last" (a replaced answer would already have trained the volunteers\' skills): use "first" or "all"' });
  }
  const seen = new Map<string, number>();
  const rules: ResultRule[] = [];
  file.rules.forEach((r, index) => {
    const first = seen.get(r.id);
    if (first !== undefined) issues.push({ rule: r.id, at: 'id', line: lineOf(['rules', index, 'id']), message: `duplicate rule id (also rule #${first + 1})` });
    seen.set(r.id, index);
    const scope = r.task === undefined ? SUBJECT_BINDINGS_SHAPE : TASK_BINDINGS_SHAPE;
    const compiled = compileExpression(r.condition, scope, 'condition');
    for (const ci of compiled.issues) {
      const hint = r.task === undefined && /unknown fact "(consensus|votes|fractions|evenness|survey|clusters)/.test(ci.message) ? ' (this rule has no task: add `task: T0` to read a task\'s reduction)' : '';
      issues.push({ rule: r.id, at: ci.at, line: lineOf(['rules', index, 'condition', ...ci.pointer]), message: ci.message + hint });
    }
    if (compiled.expr && (compiled.kinds & KIND.boolean) === 0) {
      issues.push({ rule: r.id, at: 'condition', line: lineOf(['rules', index, 'condition']), message: 'the condition must give true/false (use a comparison, "not", "and", "or", "any" or "all")' });
    }
    const effects = r.effects.map(toEffect);
    const kinds = new Map<string, number>();
    effects.forEach((e, k) => {
      const key = onceKey('', '', e.kind, effectTarget(e, r.id));
      if (kinds.has(key)) issues.push({ rule: r.id, at: `effects[${k}]`, line: lineOf(['rules', index, 'effects', k]), message: `the same effect twice (also effects[${kinds.get(key)}])` });
      kinds.set(key, k);
    });
    if (compiled.expr) rules.push({ id: r.id, description: r.description?.trim() || null, ...(r.task !== undefined ? { task: r.task } : {}), condition: r.condition as JsonValue, expr: compiled.expr, effects });
  });
  if (issues.length > 0) throw new ResultsRulesError(label, issues);
  const reduce: ReduceSettings = { repeats: file.reduce.repeats };
  if (file.reduce.dbscan) reduce.dbscan = file.reduce.dbscan;
  if (file.reduce.swap) reduce.swap = file.reduce.swap;
  return {
    name: file.name,
    version: file.version,
    description: file.description?.trim() || null,
    ...(file.workflow !== undefined ? { workflow: file.workflow } : {}),
    reduce,
    rules,
    digest: resultsRulesDigest(source),
    label,
  };
}

type ParsedEffect = z.infer<typeof effectSchema>;

function toEffect(e: ParsedEffect): ResultEffect {
  if (e.retire_subject) return { kind: 'retire_subject', reason: e.retire_subject.reason as RetirementRequest };
  if (e.add_subject_to_set) return { kind: 'add_subject_to_set', subjectSetId: e.add_subject_to_set.subject_set_id };
  if (e.flag) return { kind: 'flag', label: e.flag.label };
  return { kind: 'notify', ...(e.notify?.message ? { message: e.notify.message } : {}) };
}

/**
 * The ledger's `target` of an effect (the schema's: retirement reason, set
 * id, flag label; the rule id for a notify). With (workflow, subject, kind)
 * it makes an effect happen once: added to a given set once, flagged once
 * per label, the PI told once per rule. A subject is retired once whatever
 * the reason (Panoptes keeps the first): see `onceKey`.
 */
export function effectTarget(e: ResultEffect, ruleId: string): string {
  switch (e.kind) {
    case 'retire_subject':
      return e.reason;
    case 'add_subject_to_set':
      return e.subjectSetId;
    case 'flag':
      return e.label;
    case 'notify':
      return ruleId;
  }
}

/** What "the same effect" means for a subject: retirement is one per subject and workflow, whatever its reason. */
export function onceKey(workflowId: string, subjectId: string, kind: string, target: string): string {
  return `${workflowId}\u0000${subjectId}\u0000${kind}\u0000${kind === 'retire_subject' ? '' : target}`;
}

/** One line saying what an effect does, for listings. */
export function describeEffect(e: ResultEffect): string {
  switch (e.kind) {
    case 'retire_subject':
      return `retire the subject (reason ${e.reason}; cannot be undone through the Panoptes API)`;
    case 'add_subject_to_set':
      return `add the subject to subject set ${e.subjectSetId}`;
    case 'notify':
      return `notify the PI (webhook event subject_flagged)${e.message ? `: ${e.message}` : ''}`;
    case 'flag':
      return `flag the subject "${e.label}" on the results page`;
  }
}

function schemaIssue(data: unknown, issue: z.core.$ZodIssue, lineOf: (p: Array<string | number>) => number | undefined): ResultsRulesIssue {
  const { path, rule, rest } = issuePath(data, issue);
  let message = issue.message;
  const given = valueAt(data, path);
  if (issue.code === 'unrecognized_keys') {
    const effect = rest[0] === 'effects' && rest.length === 2;
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${effect ? ' (an effect is one of retire_subject, add_subject_to_set, notify, flag)' : ''}`;
  } else if ((issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union') && given === undefined) message = 'missing';
  return { ...(rule !== undefined ? { rule } : {}), ...(rest.length ? { at: formatPath(rest) } : {}), line: lineOf(path), message };
}

