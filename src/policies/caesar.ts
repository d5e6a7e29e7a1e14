/**
 * The condition language of Zooniverse's Caesar rules (zooniverse/caesar,
 * app/models/conditions), reused so that project owners who know Caesar can
 * read our data-rights rules. An expression is a JSON array `[op, arg...]`
 * whose arguments are expressions themselves; constants need `["const", x]`
 * exactly as in Caesar, so a bare `"dataset.age_hours"` (a forgotten lookup)
 * is a load-time error instead of a string that silently never matches.
 * Longer than 400 lines because the language's static checker and its
 * evaluator must stay in step operator by operator.
 *
 * Where we differ from Caesar, on purpose (documented in policies/README.md):
 * - Types are strict. Ruby treats every value except nil/false as true and
 *   happily compares 0 with "0" as unequal; here `not/and/or` and rule
 *   conditions need real booleans, ordering and arithmetic need numbers (or
 *   strings), and anything else is an error naming the rule. A data-rights
 *   gate must not pass an image because a rule was mistyped.
 * - Expressions are checked statically against the shape of the facts: an
 *   unknown fact, an unknown operator, a wrong arity or a comparison that can
 *   never hold (number vs string) fails when the policy is loaded.
 * - `lookup`'s default applies when the fact is absent OR null (Caesar: absent
 *   only); every fact is always present, so null is the only "unknown".
 * - `any`/`all` bind `key` and `value` (as Caesar does for a hash) but keep
 *   the outer facts visible, so a condition can relate each element to other
 *   facts; they iterate arrays (key = index) as well as objects.
 * - `int`/`float` refuse strings that are not wholly a number (Ruby's to_i
 *   makes "12abc" 12 and "abc" 0), and accept numbers.
 * - `/` and `%` by zero are errors, and results must be finite.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Kinds of value, as bits, so that "number or null" is one number. */
export const KIND = { boolean: 1, number: 2, string: 4, null: 8, array: 16, object: 32 } as const;
export const ANY_KIND = 63;
const { boolean: BOOL, number: NUM, string: STR, null: NULL, array: ARR, object: OBJ } = KIND;

/** What static checking knows about a value (a fact, a parameter, an element). */
export interface TypeShape {
  kinds: number;
  /** Elements' shape, when kinds includes array. */
  elements?: TypeShape;
  /** Known fields, when kinds includes object; without it any field may exist. */
  fields?: Readonly<Record<string, TypeShape>>;
}

export const LOGICAL_OPS = ['not', 'and', 'or'] as const;
export const QUANTIFIER_OPS = ['any', 'all'] as const;
export const COMPARISON_OPS = ['eq', 'gt', 'gte', 'lt', 'lte'] as const;
export const ARITHMETIC_OPS = ['+', '-', '*', '/', '%'] as const;
export const TRANSFORM_OPS = ['upcase', 'downcase', 'int', 'to_i', 'float', 'to_f'] as const;
export const OPERATORS = [...LOGICAL_OPS, ...QUANTIFIER_OPS, ...COMPARISON_OPS, 'const', 'lookup', ...ARITHMETIC_OPS, ...TRANSFORM_OPS] as const;
export type Operator = (typeof OPERATORS)[number];
type ComparisonOp = (typeof COMPARISON_OPS)[number];
type ArithmeticOp = (typeof ARITHMETIC_OPS)[number];
type TransformOp = (typeof TRANSFORM_OPS)[number];
type ComparisonExpr = Extract<Expr, { op: ComparisonOp }>;
type ArithmeticExpr = Extract<Expr, { op: ArithmeticOp }>;
type TransformExpr = Extract<Expr, { op: TransformOp }>;

/** A checked expression. `at` names its place, e.g. `condition[1][2]`. */
export type Expr =
  | { op: 'const'; at: string; value: JsonValue }
  | { op: 'lookup'; at: string; path: string; hasDefault: boolean; fallback: JsonValue }
  | { op: 'not'; at: string; arg: Expr }
  | { op: 'and' | 'or'; at: string; args: Expr[] }
  | { op: 'any' | 'all'; at: string; path: string; body: Expr }
  | { op: ComparisonOp; at: string; args: Expr[] }
  | { op: ArithmeticOp; at: string; args: Expr[] }
  | { op: TransformOp; at: string; arg: Expr };

export interface ExpressionIssue {
  /** e.g. `condition[2]` */
  at: string;
  /** Indexes into the raw expression (`[2]` for `condition[2]`), to find its source line. */
  pointer: number[];
  message: string;
}

export interface CompiledExpression {
  /** Null when there were issues. */
  expr: Expr | null;
  /** Kinds the expression can produce. */
  kinds: number;
  issues: ExpressionIssue[];
}

const MAX_DEPTH = 64;

/** Checks a raw expression against the scope (the shape of the facts) and compiles it. */
export function compileExpression(raw: unknown, scope: TypeShape, label = 'condition'): CompiledExpression {
  const issues: ExpressionIssue[] = [];
  const out = compileNode(raw, [], scope, label, issues);
  return { expr: issues.length === 0 && out ? out.expr : null, kinds: out?.kinds ?? ANY_KIND, issues };
}

/** Static checks only: the issues compileExpression would report. */
export function validateExpression(raw: unknown, scope: TypeShape, label = 'condition'): ExpressionIssue[] {
  return compileExpression(raw, scope, label).issues;
}

interface Node {
  expr: Expr;
  kinds: number;
}

function compileNode(raw: unknown, pointer: number[], scope: TypeShape, label: string, issues: ExpressionIssue[]): Node | null {
  const at = label + pointer.map((i) => `[${i}]`).join('');
  const fail = (message: string, p: number[] = pointer): null => {
    issues.push({ at: label + p.map((i) => `[${i}]`).join(''), pointer: p, message });
    return null;
  };
  if (pointer.length > MAX_DEPTH) return fail(`nested more than ${MAX_DEPTH} levels deep`);
  if (raw === undefined) return fail('missing');
  if (!Array.isArray(raw)) return fail(notAnExpression(raw));
  if (raw.length === 0) return fail('empty expression; expected ["operator", argument...]');
  const op = raw[0];
  if (typeof op !== 'string') return fail(`expected an operator name first, got ${show(op)}`);
  if (!(OPERATORS as readonly string[]).includes(op)) {
    const near = closest(op, OPERATORS);
    return fail(`unknown operator ${JSON.stringify(op)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`);
  }
  const nargs = raw.length - 1;
  const arity = (min: number, max: number): boolean => {
    if (nargs >= min && nargs <= max) return true;
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} or ${max}`;
    fail(`"${op}" takes ${want} argument${min === 1 && max !== 2 ? '' : 's'}, got ${nargs}`);
    return false;
  };
  const sub = (i: number, s: TypeShape = scope): Node | null => compileNode(raw[i], [...pointer, i], s, label, issues);
  const subs = (): Array<Node | null> => raw.slice(1).map((_, k) => sub(k + 1));
  const describe = (i: number): string => compact(raw[i]);
  // Checks one operand's kinds; `null` in them is refused unless the
  // operand is wholly unknown (an element of an untyped list).
  const needKinds = (i: number, n: Node | null, want: number, what: string): boolean => {
    if (!n) return false;
    if ((n.kinds & want) === 0) {
      fail(`"${op}" needs ${what}, but ${describe(i)} is ${kindsName(n.kinds)}`, [...pointer, i]);
      return false;
    }
    if (n.kinds !== ANY_KIND && n.kinds & NULL) {
      const example = n.kinds & NUM ? '0' : n.kinds & STR ? '""' : 'false';
      const hint = n.expr.op === 'lookup' ? `; give the lookup a default, e.g. ["lookup", ${JSON.stringify(n.expr.path)}, ${example}]` : '';
      fail(`${describe(i)} can be null, which "${op}" cannot use${hint}`, [...pointer, i]);
      return false;
    }
    return true;
  };

  switch (op) {
    case 'const': {
      if (!arity(1, 1)) return null;
      const value = raw[1];
      if (!isJson(value)) return fail(`"const" needs a JSON value, got ${show(value)}`);
      return { expr: { op, at, value }, kinds: kindOf(value) };
    }
    case 'lookup': {
      if (!arity(1, 2)) return null;
      const path = raw[1];
      if (typeof path !== 'string' || path === '') return fail(`"lookup" needs a fact name such as "dataset.release", got ${show(path)}`, [...pointer, 1]);
      const hasDefault = nargs === 2;
      const fallback = hasDefault ? raw[2] : null;
      if (!isJson(fallback)) return fail(`the default of "lookup" must be a JSON value, got ${show(fallback)}`, [...pointer, 2]);
      const shape = resolveShape(scope, path);
      if ('error' in shape) return fail(shape.error, [...pointer, 1]);
      const kinds = hasDefault ? (shape.kinds & ~NULL) | kindOf(fallback) : shape.kinds;
      return { expr: { op, at, path, hasDefault, fallback }, kinds };
    }
    case 'not': {
      if (!arity(1, 1)) return null;
      const a = sub(1);
      if (!needKinds(1, a, BOOL, 'true/false') || !a) return null;
      return { expr: { op, at, arg: a.expr }, kinds: BOOL };
    }
    case 'and':
    case 'or': {
      if (!arity(1, Infinity)) return null;
      const args = subs();
      const ok = args.map((a, k) => needKinds(k + 1, a, BOOL, 'true/false')).every(Boolean);
      if (!ok) return null;
      return { expr: { op, at, args: args.map((a) => a!.expr) }, kinds: BOOL };
    }
    case 'any':
    case 'all': {
      if (!arity(2, 2)) return null;
      const path = raw[1];
      if (typeof path !== 'string' || path === '') {
        return fail(`"${op}" needs a fact name (a string such as "owner.data_rights") and then a condition, got ${show(path)}`, [...pointer, 1]);
      }
      const shape = resolveShape(scope, path);
      if ('error' in shape) return fail(shape.error, [...pointer, 1]);
      if ((shape.kinds & (ARR | OBJ)) === 0) return fail(`"${op}" needs a list, but "${path}" is ${kindsName(shape.kinds)}`, [...pointer, 1]);
      const keyKinds = (shape.kinds & ARR ? NUM : 0) | (shape.kinds & OBJ ? STR : 0);
      const valueShape: TypeShape = shape.kinds & OBJ ? { kinds: ANY_KIND } : (shape.elements ?? { kinds: ANY_KIND });
      const inner: TypeShape = scope.fields ? { kinds: OBJ, fields: { ...scope.fields, key: { kinds: keyKinds }, value: valueShape } } : scope;
      const body = sub(2, inner);
      if (!needKinds(2, body, BOOL, 'a condition giving true/false') || !body) return null;
      return { expr: { op, at, path, body: body.expr }, kinds: BOOL };
    }
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (!arity(2, Infinity)) return null;
      const args = subs();
      if (args.some((a) => !a)) return null;
      const nodes = args as Node[];
      if (op === 'eq') {
        for (let k = 1; k < nodes.length; k++) {
          if ((nodes[k - 1].kinds & nodes[k].kinds) === 0) {
            return fail(`${describe(k)} (${kindsName(nodes[k - 1].kinds)}) and ${describe(k + 1)} (${kindsName(nodes[k].kinds)}) can never be equal`, [...pointer, k + 1]);
          }
        }
      } else {
        if (!nodes.map((n, k) => needKinds(k + 1, n, NUM | STR, 'numbers or strings')).every(Boolean)) return null;
        for (let k = 1; k < nodes.length; k++) {
          if ((nodes[k - 1].kinds & nodes[k].kinds & (NUM | STR)) === 0) {
            return fail(`"${op}" cannot compare ${describe(k)} (${kindsName(nodes[k - 1].kinds)}) with ${describe(k + 1)} (${kindsName(nodes[k].kinds)})`, [...pointer, k + 1]);
          }
        }
      }
      return { expr: { op, at, args: nodes.map((n) => n.expr) }, kinds: BOOL };
    }
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      if (!arity(2, Infinity)) return null;
      const args = subs();
      const want = op === '+' ? NUM | STR : NUM;
      if (!args.map((a, k) => needKinds(k + 1, a, want, op === '+' ? 'numbers (or all strings)' : 'numbers')).every(Boolean)) return null;
      const nodes = args as Node[];
      const kinds = nodes.reduce((acc, n) => acc & n.kinds, want);
      if (kinds === 0) return fail(`"+" adds numbers or joins strings, not a mixture`);
      return { expr: { op, at, args: nodes.map((n) => n.expr) }, kinds };
    }
    case 'upcase':
    case 'downcase':
    case 'int':
    case 'to_i':
    case 'float':
    case 'to_f': {
      if (!arity(1, 1)) return null;
      const a = sub(1);
      const text = op === 'upcase' || op === 'downcase';
      if (!needKinds(1, a, text ? STR : NUM | STR, text ? 'a string' : 'a number or a numeric string') || !a) return null;
      return { expr: { op, at, arg: a.expr }, kinds: text ? STR : NUM };
    }
  }
  return null;
}

/** The static shape of a dotted path, or why it does not exist. */
export function resolveShape(root: TypeShape, path: string): TypeShape | { error: string } {
  const segments = path.split('.');
  if (segments.some((s) => s === '')) return { error: `"${path}" is not a valid fact name` };
  let cur = root;
  let mayBeMissing = false;
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k];
    const here = segments.slice(0, k).join('.');
    if (cur.fields) {
      const next = cur.fields[seg];
      if (!next) {
        const names = Object.keys(cur.fields).map((f) => (here ? `${here}.${f}` : f));
        const near = closest(here ? `${here}.${seg}` : seg, names);
        return { error: `unknown fact "${here ? `${here}.${seg}` : seg}"${near ? ` (did you mean "${near}"?)` : ''}` };
      }
      if (cur.kinds & NULL) mayBeMissing = true;
      cur = next;
    } else if (cur.kinds & ARR && /^\d+$/.test(seg)) {
      mayBeMissing = true;
      cur = cur.elements ?? { kinds: ANY_KIND };
    } else if (cur.kinds & OBJ) {
      return { kinds: ANY_KIND };
    } else {
      return { error: `"${here}" is ${kindsName(cur.kinds)}; it has no field "${seg}"` };
    }
  }
  return mayBeMissing ? { ...cur, kinds: cur.kinds | NULL } : cur;
}

/** The shape of a known JSON value (policy parameters). */
export function shapeOf(value: JsonValue): TypeShape {
  if (Array.isArray(value)) {
    const kinds = value.reduce<number>((acc, v) => acc | kindOf(v), 0);
    return { kinds: ARR, elements: { kinds: value.length === 0 ? ANY_KIND : kinds } };
  }
  if (value !== null && typeof value === 'object') {
    return { kinds: OBJ, fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)])) };
  }
  return { kinds: kindOf(value) };
}

// ---------------------------------------------------------------- evaluation

/** A runtime failure inside an expression: a type error, division by zero, a missing fact. */
export class ExpressionError extends Error {
  constructor(
    readonly at: string,
    message: string,
  ) {
    super(`${at}: ${message}`);
    this.name = 'ExpressionError';
  }
  /** The message without the position. */
  get reason(): string {
    return this.message.slice(this.at.length + 2);
  }
}

/**
 * How one expression was evaluated, for explanations. Logical nodes (not,
 * and, or, any, all) have children, one per operand evaluated; the rest
 * carry their operands inside `text`, e.g. `dataset.age_hours (12.5) < 80`.
 */
export interface TraceNode {
  text: string;
  value: JsonValue;
  /** e.g. `[3]` for the element of an any/all it was evaluated for. */
  label?: string;
  children?: TraceNode[];
  /** Operands (or elements) left unevaluated by short-circuiting. */
  skipped?: number;
}

export type Bindings = Readonly<Record<string, unknown>>;

/** Evaluates a rule condition; anything but a boolean result is an error. */
export function evaluateCondition(expr: Expr, bindings: Bindings): { result: boolean; trace: TraceNode } {
  const trace = evaluateExpression(expr, bindings);
  if (typeof trace.value !== 'boolean') throw new ExpressionError(expr.at, `the condition gave ${typed(trace.value)}, not true/false`);
  return { result: trace.value, trace };
}

const SYMBOL: Record<ComparisonOp, string> = { eq: '==', gt: '>', gte: '>=', lt: '<', lte: '<=' };

export function evaluateExpression(expr: Expr, bindings: Bindings): TraceNode {
  switch (expr.op) {
    case 'const':
      return { text: fmt(expr.value), value: expr.value };
    case 'lookup': {
      const found = lookupPath(bindings, expr.path);
      if (found.present && found.value !== null) return { text: `${expr.path} (${fmt(found.value)})`, value: found.value };
      if (expr.hasDefault) return { text: `${expr.path} (${found.present ? 'null' : 'absent'}, default ${fmt(expr.fallback)})`, value: expr.fallback };
      if (!found.present) throw new ExpressionError(expr.at, `no fact "${expr.path}"; give the lookup a default to allow that`);
      return { text: `${expr.path} (null)`, value: null };
    }
    case 'not': {
      const a = evaluateExpression(expr.arg, bindings);
      const v = needBoolean(expr, a);
      // A negated comparison reads best on one line.
      if (!a.children) return { text: `not (${a.text})`, value: !v };
      return { text: 'not', value: !v, children: [a] };
    }
    case 'and':
    case 'or': {
      const children: TraceNode[] = [];
      // Short-circuit as Caesar (Ruby's all?/any?) does, so a guard such as
      // ["and", <fact is known>, <use the fact>] works.
      const stopAt = expr.op === 'or';
      for (const arg of expr.args) {
        const t = evaluateExpression(arg, bindings);
        children.push(t);
        if (needBoolean(expr, t) === stopAt) {
          return { text: expr.op, value: stopAt, children, skipped: expr.args.length - children.length };
        }
      }
      return { text: expr.op, value: !stopAt, children };
    }
    case 'any':
    case 'all': {
      const found = lookupPath(bindings, expr.path);
      if (!found.present) throw new ExpressionError(expr.at, `no fact "${expr.path}"`);
      const list = found.value;
      let entries: Array<[number | string, unknown]>;
      if (Array.isArray(list)) entries = list.map((v, k) => [k, v]);
      else if (isPlainObject(list)) entries = Object.entries(list);
      else throw new ExpressionError(expr.at, `"${expr.op}" needs a list, but "${expr.path}" is ${typed(list)}`);
      const stopAt = expr.op === 'any';
      const children: TraceNode[] = [];
      const text = `${expr.op} of ${expr.path} (${entries.length === 0 ? 'empty' : `${entries.length} item${entries.length === 1 ? '' : 's'}`})`;
      for (const [key, value] of entries) {
        const t = evaluateExpression(expr.body, { ...bindings, key, value });
        children.push({ ...t, label: `[${key}]` });
        if (needBoolean(expr, t) === stopAt) return { text, value: stopAt, children, skipped: entries.length - children.length };
      }
      return { text, value: !stopAt, children };
    }
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const sym = SYMBOL[expr.op];
      const parts: TraceNode[] = [evaluateExpression(expr.args[0], bindings)];
      let value = true;
      // Lazy like Caesar: a chain stops at the first link that fails.
      for (let k = 1; k < expr.args.length; k++) {
        const b = evaluateExpression(expr.args[k], bindings);
        parts.push(b);
        if (!compare(expr, parts[k - 1].value, b.value)) {
          value = false;
          break;
        }
      }
      const rest = expr.args.length > parts.length ? ` ${sym} …` : '';
      return { text: parts.map((p) => inline(p)).join(` ${sym} `) + rest, value };
    }
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      const parts = expr.args.map((a) => evaluateExpression(a, bindings));
      const value = arithmetic(expr, parts.map((p) => p.value));
      return { text: `(${parts.map((p) => inline(p)).join(` ${expr.op} `)} = ${fmt(value)})`, value };
    }
    case 'upcase':
    case 'downcase':
    case 'int':
    case 'to_i':
    case 'float':
    case 'to_f': {
      const a = evaluateExpression(expr.arg, bindings);
      const value = transform(expr, a.value);
      return { text: `(${expr.op}(${inline(a)}) = ${fmt(value)})`, value };
    }
  }
}

/** A sub-result written inside another line: logical nodes collapse to their value. */
function inline(t: TraceNode): string {
  return t.children ? `(${t.text} = ${fmt(t.value)})` : t.text;
}

function needBoolean(expr: Expr, t: TraceNode): boolean {
  if (typeof t.value === 'boolean') return t.value;
  throw new ExpressionError(expr.at, `"${expr.op}" needs true/false, got ${typed(t.value)} from ${t.text}`);
}

function compare(expr: ComparisonExpr, a: JsonValue, b: JsonValue): boolean {
  if (expr.op === 'eq') return jsonEqual(a, b);
  let order: number;
  if (typeof a === 'number' && typeof b === 'number') order = a - b;
  else if (typeof a === 'string' && typeof b === 'string') order = a < b ? -1 : a > b ? 1 : 0;
  else {
    const hint = a === null || b === null ? ' (a fact is null; give the lookup a default)' : '';
    throw new ExpressionError(expr.at, `"${expr.op}" cannot compare ${typed(a)} with ${typed(b)}${hint}`);
  }
  switch (expr.op) {
    case 'gt':
      return order > 0;
    case 'gte':
      return order >= 0;
    case 'lt':
      return order < 0;
    case 'lte':
      return order <= 0;
  }
}

function arithmetic(expr: ArithmeticExpr, values: JsonValue[]): JsonValue {
  if (expr.op === '+' && values.every((v) => typeof v === 'string')) return (values as string[]).join('');
  const bad = values.find((v) => typeof v !== 'number');
  if (bad !== undefined) {
    throw new ExpressionError(expr.at, `"${expr.op}" needs numbers${expr.op === '+' ? ' (or all strings)' : ''}, got ${typed(bad)}`);
  }
  const nums = values as number[];
  const result = nums.reduce((a, b) => {
    switch (expr.op) {
      case '+':
        return a + b;
      case '-':
        return a - b;
      case '*':
        return a * b;
      case '/':
        if (b === 0) throw new ExpressionError(expr.at, `division by zero (${fmt(a)} / 0)`);
        return a / b;
      case '%':
        if (b === 0) throw new ExpressionError(expr.at, `modulo by zero (${fmt(a)} % 0)`);
        // Floored, as in Ruby/Caesar: the result takes the divisor's sign.
        return ((a % b) + b) % b;
    }
  });
  if (!Number.isFinite(result)) throw new ExpressionError(expr.at, `"${expr.op}" gave a number too large to use`);
  return result;
}

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function transform(expr: TransformExpr, v: JsonValue): JsonValue {
  if (expr.op === 'upcase' || expr.op === 'downcase') {
    if (typeof v !== 'string') throw new ExpressionError(expr.at, `"${expr.op}" needs a string, got ${typed(v)}`);
    return expr.op === 'upcase' ? v.toUpperCase() : v.toLowerCase();
  }
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && NUMERIC.test(v.trim())) n = Number(v.trim());
  else throw new ExpressionError(expr.at, `"${expr.op}" needs a number or a numeric string, got ${typed(v)}`);
  if (!Number.isFinite(n)) throw new ExpressionError(expr.at, `"${expr.op}": ${fmt(v)} is too large`);
  return expr.op === 'int' || expr.op === 'to_i' ? Math.trunc(n) : n;
}

/** Reads a dotted path; numeric segments index arrays. */
export function lookupPath(bindings: Bindings, path: string): { present: true; value: JsonValue } | { present: false } {
  let cur: unknown = bindings;
  for (const seg of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(seg)) cur = cur[Number(seg)];
    else if (isPlainObject(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
    else return { present: false };
    if (cur === undefined) return { present: false };
  }
  return { present: true, value: cur as JsonValue };
}

// ------------------------------------------------------------------- helpers

export function formatTrace(node: TraceNode, indent = '', maxChildren = 20): string {
  const head = `${indent}${node.label ? `${node.label} ` : ''}${node.text} → ${fmt(node.value)}`;
  const lines = [head];
  const children = node.children ?? [];
  for (const c of children.slice(0, maxChildren)) lines.push(formatTrace(c, indent + '  ', maxChildren));
  if (children.length > maxChildren) lines.push(`${indent}  … ${children.length - maxChildren} more evaluated`);
  if (node.skipped) lines.push(`${indent}  … ${node.skipped} more not evaluated`);
  return lines.join('\n');
}

export function fmt(v: unknown): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

export function kindOf(v: unknown): number {
  if (v === null) return NULL;
  if (Array.isArray(v)) return ARR;
  switch (typeof v) {
    case 'boolean':
      return BOOL;
    case 'number':
      return NUM;
    case 'string':
      return STR;
    case 'object':
      return OBJ;
    default:
      return 0;
  }
}

/** A value with its kind, for messages: `number 80`, `string "dr1"`, `null`. */
function typed(v: unknown): string {
  if (v === null || typeof v === 'boolean') return fmt(v);
  const kind = Array.isArray(v) ? 'list' : typeof v === 'object' ? 'object' : typeof v;
  return `${kind} ${compact(v)}`;
}

function kindsName(bits: number): string {
  if (bits === ANY_KIND) return 'any value';
  const names: string[] = [];
  if (bits & BOOL) names.push('true/false');
  if (bits & NUM) names.push('a number');
  if (bits & STR) names.push('a string');
  if (bits & NULL) names.push('null');
  if (bits & ARR) names.push('a list');
  if (bits & OBJ) names.push('an object');
  return names.length ? names.join(' or ') : 'nothing';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isJson(v: unknown): v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJson);
  if (isPlainObject(v)) return Object.values(v).every(isJson);
  return false;
}

function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, k) => jsonEqual(x, b[k]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] as JsonValue, b[k] as JsonValue));
  }
  return false;
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : typed(v);
}

function compact(v: unknown): string {
  const s = fmt(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function notAnExpression(raw: unknown): string {
  if (typeof raw === 'string' && /^[a-z_]+(\.[a-z0-9_]+)+$/i.test(raw)) {
    return `expected an expression, got the string ${JSON.stringify(raw)}; write ["lookup", ${JSON.stringify(raw)}] to read a fact or ["const", ${JSON.stringify(raw)}] for a constant`;
  }
  return `expected an expression such as ["const", ${compact(raw)}], got ${show(raw)}`;
}

/** The candidate within edit distance 2 (for "did you mean"), if any. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD && d < word.length / 2) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
