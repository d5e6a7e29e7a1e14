import { ANY_KIND, compileExpression, evaluateExpression, KIND, shapeOf, type JsonValue, type TraceNode } from '../../src/policies/caesar.js';
import { FACTS_SHAPE, type PolicyFacts } from '../../src/policies/facts.js';

/** Realistic facts for one image: a DP1 cutout of an unapproved collection, first of a batch of 20. */
export function facts(over: DeepPartial<PolicyFacts> = {}): PolicyFacts {
  const base: PolicyFacts = {
    collection: { id: '0b6f3d1e-5c1a-4d0e-9a57-1f2e3d4c5b6a', name: 'u/alien/zooniverse-1', owner: 'alien', panel_approval: 'none' },
    owner: { username: 'alien', data_rights: ['dp1', 'dr1'] },
    dataset: { type: 'zooniverse_cutout', release: 'dp1', release_source: 'mapping', proprietary: true, embargo_hours: 0, bands: ['g', 'r', 'i'], observed_at: '2024-11-20T03:14:15Z', age_hours: 17000 },
    cutout: { width: 256, height: 256 },
    position: { wcs_quality: 'full', ra: 53.1, dec: -28.1 },
    counts: { batch: 20, batch_position: 1, collection_today: 0, collection_published: 0 },
  };
  const out = merge(base, over);
  // A release given without its mapping facts gets the built-in mapping's (public: dp0.2, dp0.3).
  if (over.dataset?.release !== undefined && over.dataset.proprietary === undefined) out.dataset.proprietary = !['dp0.2', 'dp0.3'].includes(out.dataset.release);
  if (over.dataset?.release !== undefined && over.dataset.embargo_hours === undefined) out.dataset.embargo_hours = out.dataset.release === 'prompt' ? 80 : 0;
  return out;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = out[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object' ? merge(b, v as never) : v;
  }
  return out as T;
}

/**
 * Compiles (failing the test on static issues) and evaluates an expression
 * against facts. `untyped` hides the params' types from static checks, to
 * reach the run-time checks with values static checking would refuse.
 */
export function run(raw: unknown, f: PolicyFacts = facts(), params: Record<string, JsonValue> = {}, untyped = false): TraceNode {
  const scope = { kinds: KIND.object, fields: { ...FACTS_SHAPE.fields, params: untyped ? { kinds: ANY_KIND } : shapeOf(params) } };
  const c = compileExpression(raw, scope);
  if (!c.expr) throw new Error(`static issues: ${c.issues.map((i) => `${i.at}: ${i.message}`).join('; ')}`);
  return evaluateExpression(c.expr, { ...f, params });
}

/** The value of an expression. */
export function value(raw: unknown, f?: PolicyFacts, params?: Record<string, JsonValue>): JsonValue {
  return run(raw, f, params).value;
}

/** Static issues as `at: message` lines. */
export function issues(raw: unknown, params: Record<string, JsonValue> = {}): string[] {
  const scope = { kinds: KIND.object, fields: { ...FACTS_SHAPE.fields, params: shapeOf(params) } };
  return compileExpression(raw, scope).issues.map((i) => `${i.at}: ${i.message}`);
}
