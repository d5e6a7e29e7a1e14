import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { compileExpression, shapeOf, KIND, type Expr, type JsonValue, type TypeShape } from './caesar.js';
import { FACTS_SHAPE } from './facts.js';

/**
 * A data-rights policy file (YAML or JSON; format in policies/README.md):
 * loaded once at start-up and refused as a whole if anything in it is wrong,
 * because a half-understood policy would let images through that it meant
 * to stop.
 */

export type PolicyEffect =
  | { action: 'reject'; reason: string }
  | { action: 'hold'; reason: string }
  | { action: 'require_review'; reason?: string }
  | { action: 'auto_approve'; reason?: string }
  | { action: 'strip_coordinates' }
  | { action: 'cap'; max_per_batch?: number; max_per_collection?: number }
  | { action: 'one_incomplete_set' };

export type EvaluationMode = 'all' | 'first_match';

export interface PolicyRule {
  id: string;
  description: string;
  /** The condition as written, for display. */
  condition: JsonValue;
  /** The checked condition. */
  expr: Expr;
  effects: PolicyEffect[];
}

export interface Policy {
  name: string;
  version: string;
  description: string | null;
  evaluation: EvaluationMode;
  /** Named constants for rules, read as `["lookup", "params.<name>"]`. */
  params: Record<string, JsonValue>;
  rules: PolicyRule[];
  source: {
    /** As given to the loader; error messages name it. */
    file: string;
    /** sha256 of the file's bytes, hex: which text decided, even if name@version was reused. */
    digest: string;
  };
}

/** One problem in a policy file. */
export interface PolicyIssue {
  file: string;
  /** Rule id (or `#<index>` if it has none). */
  rule?: string;
  /** Place inside the rule or file, e.g. `condition[2]` or `effects[0].reason`. */
  at?: string;
  /** 1-based line in the file, when known. */
  line?: number;
  message: string;
}

export function formatPolicyIssue(i: PolicyIssue): string {
  const where = [i.rule !== undefined ? `rule ${JSON.stringify(i.rule)}` : undefined, i.at].filter(Boolean).join(': ');
  return `${i.file}: ${where ? `${where}: ` : ''}${i.message}${i.line ? ` (line ${i.line})` : ''}`;
}

/** A policy file that cannot be used; the message has one line per problem, each naming file and rule. */
export class PolicyFileError extends ValidationError {
  constructor(
    readonly file: string,
    readonly issues: PolicyIssue[],
  ) {
    super(issues.map(formatPolicyIssue).join('\n'), { file, issues: issues.map(formatPolicyIssue) });
  }
}

/** `name@version`, the identifier verdicts store. */
export function policyRef(p: Pick<Policy, 'name' | 'version'>): string {
  return `${p.name}@${p.version}`;
}

const SLUG = /^[a-z0-9][a-z0-9_.-]*$/;
const slug = (what: string) => z.string({ error: `${what} must be a string` }).regex(SLUG, `${what} must be lower case letters, digits, "-", "_" or "." (e.g. "prompt-embargo")`);
const reason = z.string().trim().min(1, 'reason must not be empty');
const limit = z.int({ error: 'must be a whole number' }).positive('must be at least 1');

const effectSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('reject'), reason }),
  z.strictObject({ action: z.literal('hold'), reason }),
  z.strictObject({ action: z.literal('require_review'), reason: reason.optional() }),
  z.strictObject({ action: z.literal('auto_approve'), reason: reason.optional() }),
  z.strictObject({ action: z.literal('strip_coordinates') }),
  z
    .strictObject({ action: z.literal('cap'), max_per_batch: limit.optional(), max_per_collection: limit.optional() })
    .refine((c) => c.max_per_batch !== undefined || c.max_per_collection !== undefined, 'cap needs max_per_batch and/or max_per_collection'),
  z.strictObject({ action: z.literal('one_incomplete_set') }),
]);
const EFFECT_ACTIONS = ['reject', 'hold', 'require_review', 'auto_approve', 'strip_coordinates', 'cap', 'one_incomplete_set'];

const fileSchema = z.strictObject({
  name: slug('name'),
  version: z
    .string({ error: 'version must be a string such as "2026-11-23.1" (quote it in YAML)' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'version must be letters, digits, ".", "_", "+" or "-" (e.g. "2026-11-23.1")'),
  description: z.string().optional(),
  evaluation: z.enum(['all', 'first_match'], { error: 'evaluation must be "all" or "first_match"' }),
  params: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'parameter names are lower case letters, digits and "_"'), z.json()).optional(),
  rules: z
    .array(
      z.strictObject({
        id: slug('id'),
        description: z.string({ error: 'description is required' }).trim().min(1, 'description must not be empty'),
        condition: z.unknown(),
        effects: z.array(effectSchema, { error: 'effects must be a list' }).min(1, 'a rule needs at least one effect'),
      }),
      { error: 'rules must be a list' },
    )
    .min(1, 'a policy needs at least one rule'),
});

export function policyDigest(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads, checks and compiles a policy file; throws PolicyFileError listing
 * every problem. `displayName` is how messages and verdicts name the file
 * (default: `path`).
 */
export async function loadPolicyFile(path: string, displayName: string = path): Promise<Policy> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new PolicyFileError(displayName, [{ file: displayName, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parsePolicy(bytes.toString('utf8'), displayName, policyDigest(bytes));
}

/** Checks and compiles policy text (YAML, or JSON which YAML reads too). */
export function parsePolicy(text: string, fileName: string, digest: string = policyDigest(text)): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(
      fileName,
      doc.errors.map((e) => ({ file: fileName, line: lines.linePos(e.pos[0]).line, message: `not valid YAML/JSON: ${e.message.split('\n')[0]}` })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new PolicyFileError(fileName, [{ file: fileName, message: `not valid YAML/JSON: ${(e as Error).message}` }]);
  }
  const lineOf = (path: Array<string | number>): number | undefined => lineAt(doc, lines, path);

  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    throw new PolicyFileError(
      fileName,
      parsed.error.issues.map((i) => schemaIssue(fileName, data, i, lineOf)),
    );
  }
  const file = parsed.data;
  const params = (file.params ?? {}) as Record<string, JsonValue>;
  const scope: TypeShape = { kinds: KIND.object, fields: { ...FACTS_SHAPE.fields, params: shapeOf(params) } };
  const issues: PolicyIssue[] = [];
  const seen = new Map<string, number>();
  const rules: PolicyRule[] = [];
  file.rules.forEach((r, index) => {
    const first = seen.get(r.id);
    if (first !== undefined) {
      issues.push({ file: fileName, rule: r.id, at: 'id', line: lineOf(['rules', index, 'id']), message: `duplicate rule id (also rule #${first + 1})` });
    }
    seen.set(r.id, index);
    const compiled = compileExpression(r.condition, scope, 'condition');
    for (const ci of compiled.issues) {
      issues.push({ file: fileName, rule: r.id, at: ci.at, line: lineOf(['rules', index, 'condition', ...ci.pointer]), message: ci.message });
    }
    if (compiled.expr && (compiled.kinds & KIND.boolean) === 0) {
      issues.push({ file: fileName, rule: r.id, at: 'condition', line: lineOf(['rules', index, 'condition']), message: 'the condition must give true/false (use a comparison, "not", "and", "or", "any" or "all")' });
    }
    if (compiled.expr) rules.push({ id: r.id, description: r.description.trim(), condition: r.condition as JsonValue, expr: compiled.expr, effects: r.effects });
  });
  if (issues.length > 0) throw new PolicyFileError(fileName, issues);
  return {
    name: file.name,
    version: file.version,
    description: file.description?.trim() || null,
    evaluation: file.evaluation,
    params,
    rules,
    source: { file: fileName, digest },
  };
}

/**
 * Where a zod issue in a rules file is: its path, and the rule it falls in
 * named by id (else "#n") with the path inside that rule. Shared by the
 * data-rights policies and the results rules, which have the same shape.
 */
export function issuePath(data: unknown, issue: z.core.$ZodIssue): { path: Array<string | number>; rule?: string; rest: Array<string | number> } {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const id = (data as { rules?: Array<{ id?: unknown }> }).rules?.[path[1]]?.id;
    return { path, rule: typeof id === 'string' && id !== '' ? id : `#${path[1] + 1}`, rest: path.slice(2) };
  }
  return { path, rest: path };
}

/** Turns a zod issue into one naming the rule by id rather than by index. */
function schemaIssue(fileName: string, data: unknown, issue: z.core.$ZodIssue, lineOf: (p: Array<string | number>) => number | undefined): PolicyIssue {
  const { path, rule, rest } = issuePath(data, issue);
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  else if (issue.code === 'invalid_union' && rest.at(-1) === 'action') {
    const given = valueAt(data, path);
    message = given === undefined ? `an effect needs an action (${EFFECT_ACTIONS.join(', ')})` : `unknown action ${JSON.stringify(given)}; expected one of ${EFFECT_ACTIONS.join(', ')}`;
  } else if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && valueAt(data, path) === undefined) message = 'missing';
  else if (issue.code === 'invalid_key') message = `invalid parameter name: ${issue.issues[0]?.message ?? issue.message}`;
  return {
    file: fileName,
    ...(rule !== undefined ? { rule } : {}),
    ...(rest.length ? { at: formatPath(rest) } : {}),
    line: lineOf(path),
    message,
  };
}

export function formatPath(path: Array<string | number>): string {
  return path.map((p, k) => (typeof p === 'number' ? `[${p}]` : k === 0 ? p : `.${p}`)).join('');
}

export function valueAt(data: unknown, path: Array<string | number>): unknown {
  let cur = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Line of the deepest node of `path` that exists in the document (also used by the results rules loader). */
export function lineAt(doc: Document, lines: LineCounter, path: Array<string | number>): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}
