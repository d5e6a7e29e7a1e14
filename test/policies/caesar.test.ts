import { describe, expect, it } from 'vitest';
import { ExpressionError, OPERATORS, compileExpression, evaluateCondition, formatTrace, KIND } from '../../src/policies/caesar.js';
import { FACTS_SHAPE } from '../../src/policies/facts.js';
import { facts, issues, run, value } from './helpers.js';

const runtimeError = (raw: unknown, f = facts(), params = {}): ExpressionError => {
  try {
    run(raw, f, params, true);
  } catch (e) {
    if (e instanceof ExpressionError) return e;
    throw e;
  }
  throw new Error('expected an ExpressionError');
};

describe('Caesar operators', () => {
  it('const and lookup read constants and dotted facts', () => {
    expect(value(['const', 'prompt'])).toBe('prompt');
    expect(value(['const', [1, 2]])).toEqual([1, 2]);
    expect(value(['lookup', 'dataset.release'])).toBe('dp1');
    expect(value(['lookup', 'owner.data_rights'])).toEqual(['dp1', 'dr1']);
    expect(value(['lookup', 'owner.data_rights.1'])).toBe('dr1');
    expect(value(['lookup', 'params.limit'], facts(), { limit: 7 })).toBe(7);
  });

  it('lookup default replaces a null fact, and a missing element; without it null stays null', () => {
    const unknownAge = facts({ dataset: { age_hours: null } });
    expect(value(['lookup', 'dataset.age_hours', 0], unknownAge)).toBe(0);
    expect(value(['lookup', 'dataset.age_hours', 0])).toBe(17000);
    expect(value(['lookup', 'dataset.age_hours'], unknownAge)).toBeNull();
    expect(value(['lookup', 'dataset.bands.7', 'none'])).toBe('none');
    expect(runtimeError(['eq', ['lookup', 'dataset.bands.7'], ['const', 'g']]).message).toMatch(/no fact "dataset\.bands\.7"/);
  });

  it('not, and, or work on booleans and short-circuit', () => {
    expect(value(['not', ['const', false]])).toBe(true);
    expect(value(['and', ['const', true], ['const', true]])).toBe(true);
    expect(value(['and', ['const', true], ['const', false]])).toBe(false);
    expect(value(['or', ['const', false], ['const', true]])).toBe(true);
    expect(value(['or', ['const', false], ['const', false]])).toBe(false);
    // The second operand would divide by zero: it is never evaluated.
    const zero = ['eq', ['/', ['const', 1], ['lookup', 'counts.collection_today']], ['const', 1]];
    expect(value(['and', ['const', false], zero])).toBe(false);
    expect(value(['or', ['const', true], zero])).toBe(true);
    expect(() => value(['and', ['const', true], zero])).toThrow(ExpressionError);
  });

  it('eq compares any JSON values, deeply; chained eq needs all equal', () => {
    expect(value(['eq', ['lookup', 'dataset.bands'], ['const', ['g', 'r', 'i']]])).toBe(true);
    expect(value(['eq', ['lookup', 'dataset.bands'], ['const', ['g', 'r']]])).toBe(false);
    expect(value(['eq', ['lookup', 'cutout.width'], ['lookup', 'cutout.height'], ['const', 256]])).toBe(true);
    expect(value(['eq', ['lookup', 'cutout.width'], ['lookup', 'cutout.height'], ['const', 255]])).toBe(false);
    expect(value(['eq', ['lookup', 'dataset.age_hours'], ['const', null]], facts({ dataset: { age_hours: null } }))).toBe(true);
  });

  it('ordering comparisons chain: ["lt", a, b, c] is a < b < c', () => {
    expect(value(['lt', ['const', 1], ['const', 2], ['const', 3]])).toBe(true);
    expect(value(['lt', ['const', 1], ['const', 3], ['const', 2]])).toBe(false);
    expect(value(['lt', ['const', 1], ['const', 1]])).toBe(false);
    expect(value(['lte', ['const', 1], ['const', 1], ['const', 2]])).toBe(true);
    expect(value(['gt', ['const', 3], ['const', 2], ['const', 2]])).toBe(false);
    expect(value(['gte', ['const', 3], ['const', 2], ['const', 2]])).toBe(true);
    // A range check as a policy would write it.
    expect(value(['lte', ['const', -30], ['lookup', 'position.dec', 0], ['const', -20]])).toBe(true);
    expect(value(['lt', ['const', 'dp1'], ['const', 'dr1']])).toBe(true);
  });

  it('arithmetic reduces left to right; / gives fractions; % is floored like Ruby', () => {
    expect(value(['+', ['const', 1], ['const', 2], ['const', 3]])).toBe(6);
    expect(value(['-', ['const', 10], ['const', 3], ['const', 2]])).toBe(5);
    expect(value(['*', ['lookup', 'cutout.width'], ['lookup', 'cutout.height']])).toBe(65536);
    expect(value(['/', ['const', 7], ['const', 2]])).toBe(3.5);
    expect(value(['%', ['const', 7], ['const', 3]])).toBe(1);
    expect(value(['%', ['const', -7], ['const', 3]])).toBe(2);
    expect(value(['%', ['const', 7], ['const', -3]])).toBe(-2);
    expect(value(['+', ['const', 'u/'], ['lookup', 'owner.username']])).toBe('u/alien');
    expect(value(['gt', ['+', ['lookup', 'counts.collection_published'], ['lookup', 'counts.batch']], ['const', 10]])).toBe(true);
  });

  it('casts and case changes', () => {
    expect(value(['upcase', ['lookup', 'dataset.release']])).toBe('DP1');
    expect(value(['downcase', ['const', 'DR1']])).toBe('dr1');
    expect(value(['int', ['const', '42']])).toBe(42);
    expect(value(['to_i', ['const', ' -12.9 ']])).toBe(-12);
    expect(value(['int', ['const', 12.9]])).toBe(12);
    expect(value(['float', ['const', '1e3']])).toBe(1000);
    expect(value(['to_f', ['const', '2.5']])).toBe(2.5);
    expect(value(['eq', ['upcase', ['lookup', 'dataset.release']], ['const', 'DP1']])).toBe(true);
  });

  it('any/all bind value (and key) per element, keep the other facts visible', () => {
    const holdsRelease = ['any', 'owner.data_rights', ['eq', ['lookup', 'value'], ['lookup', 'dataset.release']]];
    expect(value(holdsRelease)).toBe(true);
    expect(value(holdsRelease, facts({ dataset: { release: 'dr2' } }))).toBe(false);
    expect(value(['all', 'dataset.bands', ['lt', ['lookup', 'value'], ['const', 'z']]])).toBe(true);
    expect(value(['all', 'dataset.bands', ['not', ['eq', ['lookup', 'value'], ['const', 'r']]]])).toBe(false);
    expect(value(['any', 'dataset.bands', ['and', ['eq', ['lookup', 'key'], ['const', 2]], ['eq', ['lookup', 'value'], ['const', 'i']]]])).toBe(true);
    // Objects iterate like a Caesar hash: key is the field name.
    expect(value(['any', 'cutout', ['and', ['eq', ['lookup', 'key'], ['const', 'height']], ['eq', ['lookup', 'value'], ['const', 256]]]])).toBe(true);
    // Params can hold lists of records.
    const params = { blocked: [{ user: 'mallory' }, { user: 'alien' }] };
    expect(value(['any', 'params.blocked', ['eq', ['lookup', 'value.user'], ['lookup', 'owner.username']]], facts(), params)).toBe(true);
  });

  it('any of an empty list is false, all of it is true (vacuous)', () => {
    const none = facts({ owner: { data_rights: [] } });
    expect(value(['any', 'owner.data_rights', ['const', true]], none)).toBe(false);
    expect(value(['all', 'owner.data_rights', ['const', false]], none)).toBe(true);
  });

  it('nested any shadows value with the inner element', () => {
    const params = { groups: [['dp1'], ['dr2', 'dr3']] };
    const anyGroupHasRelease = ['any', 'params.groups', ['any', 'value', ['eq', ['lookup', 'value'], ['lookup', 'dataset.release']]]];
    expect(value(anyGroupHasRelease, facts(), params)).toBe(true);
    expect(value(anyGroupHasRelease, facts({ dataset: { release: 'dr1' } }), params)).toBe(false);
  });

  it('knows every Caesar operator', () => {
    for (const op of ['not', 'and', 'or', 'any', 'all', 'eq', 'gt', 'gte', 'lt', 'lte', 'const', 'lookup', '+', '-', '*', '/', '%', 'upcase', 'downcase', 'int', 'to_i', 'float', 'to_f']) {
      expect(OPERATORS).toContain(op);
    }
  });
});

describe('runtime type errors name the place and do not pass silently', () => {
  it('comparing a string with a number', () => {
    // A list of mixed kinds is only known at run time.
    const e = runtimeError(['any', 'params.mixed', ['lt', ['lookup', 'value'], ['const', 5]]], facts(), { mixed: [7, 'x'] });
    expect(e.at).toBe('condition[2]');
    expect(e.message).toBe('condition[2]: "lt" cannot compare string "x" with number 5');
  });

  it('a null fact in an ordering comparison asks for a default', () => {
    // Only an untyped element can be null at run time; typed facts are caught at load time (below).
    const e = runtimeError(['any', 'params.ages', ['gt', ['lookup', 'value'], ['const', 80]]], facts(), { ages: [null] });
    expect(e.message).toMatch(/"gt" cannot compare null with number 80 \(a fact is null; give the lookup a default\)/);
  });

  it('division and modulo by zero', () => {
    expect(runtimeError(['gt', ['/', ['const', 1], ['lookup', 'counts.collection_today']], ['const', 0]]).message).toBe('condition[1]: division by zero (1 / 0)');
    expect(runtimeError(['gt', ['%', ['const', 1], ['lookup', 'counts.collection_today']], ['const', 0]]).message).toBe('condition[1]: modulo by zero (1 % 0)');
  });

  it('non-numeric strings in int/float, and non-strings in upcase', () => {
    expect(runtimeError(['gt', ['int', ['lookup', 'dataset.release']], ['const', 0]]).message).toBe(
      'condition[1]: "int" needs a number or a numeric string, got string "dp1"',
    );
    expect(runtimeError(['any', 'params.v', ['gt', ['float', ['lookup', 'value']], ['const', 0]]], facts(), { v: ['12abc'] }).message).toMatch(
      /"float" needs a number or a numeric string, got string "12abc"/,
    );
    expect(runtimeError(['any', 'params.v', ['eq', ['upcase', ['lookup', 'value']], ['const', 'A']]], facts(), { v: [3] }).message).toMatch(/"upcase" needs a string, got number 3/);
  });

  it('non-boolean operands of and/or/not, and a non-boolean condition', () => {
    const e = runtimeError(['any', 'params.flags', ['lookup', 'value']], facts(), { flags: [1] });
    expect(e.message).toMatch(/"any" needs true\/false, got number 1/);
    const scope = { kinds: KIND.object, fields: FACTS_SHAPE.fields };
    const c = compileExpression(['lookup', 'dataset.release'], scope);
    expect(() => evaluateCondition(c.expr!, facts() as never)).toThrow('condition: the condition gave string "dp1", not true/false');
  });

  it('arithmetic on a string, and overflow', () => {
    expect(runtimeError(['any', 'params.v', ['gt', ['-', ['lookup', 'value'], ['const', 1]], ['const', 0]]], facts(), { v: ['5'] }).message).toMatch(/"-" needs numbers, got string "5"/);
    expect(runtimeError(['gt', ['*', ['const', 1e300], ['const', 1e300]], ['const', 0]]).message).toMatch(/"\*" gave a number too large/);
  });
});

describe('static validation', () => {
  it('names unknown operators with a suggestion and the position', () => {
    expect(issues(['and', ['const', true], ['gtee', ['const', 1], ['const', 2]]])).toEqual(['condition[2]: unknown operator "gtee" (did you mean "gte"?)']);
    expect(issues(['frobnicate', ['const', 1]])).toEqual(['condition: unknown operator "frobnicate"']);
  });

  it('checks arities', () => {
    expect(issues(['not', ['const', true], ['const', false]])).toEqual(['condition: "not" takes 1 argument, got 2']);
    expect(issues(['lt', ['const', 1]])).toEqual(['condition: "lt" takes at least 2 arguments, got 1']);
    expect(issues(['lookup', 'dataset.release', 'x', 'y'])).toEqual(['condition: "lookup" takes 1 or 2 arguments, got 3']);
    expect(issues(['const'])).toEqual(['condition: "const" takes 1 argument, got 0']);
    expect(issues(['any', 'dataset.bands'])).toEqual(['condition: "any" takes 2 arguments, got 1']);
    expect(issues(['and'])).toEqual(['condition: "and" takes at least 1 argument, got 0']);
    expect(issues(['-', ['const', 1]])).toEqual(['condition: "-" takes at least 2 arguments, got 1']);
    expect(issues([])).toEqual(['condition: empty expression; expected ["operator", argument...]']);
  });

  it('refuses bare values where an expression belongs, pointing at the lookup that was meant', () => {
    expect(issues(['lt', 'dataset.age_hours', ['const', 80]])).toEqual([
      'condition[1]: expected an expression, got the string "dataset.age_hours"; write ["lookup", "dataset.age_hours"] to read a fact or ["const", "dataset.age_hours"] for a constant',
    ]);
    expect(issues(['lt', ['lookup', 'dataset.age_hours', 0], 80])).toEqual(['condition[2]: expected an expression such as ["const", 80], got number 80']);
  });

  it('refuses unknown facts and parameters, suggesting the near one', () => {
    expect(issues(['lt', ['lookup', 'dataset.age_hour', 0], ['const', 80]])).toEqual(['condition[1][1]: unknown fact "dataset.age_hour" (did you mean "dataset.age_hours"?)']);
    expect(issues(['eq', ['lookup', 'params.nope'], ['const', 1]], { limit: 1 })).toEqual(['condition[1][1]: unknown fact "params.nope"']);
    expect(issues(['eq', ['lookup', 'owner.username.first'], ['const', 1]])).toEqual(['condition[1][1]: "owner.username" is a string; it has no field "first"']);
    expect(issues(['eq', ['lookup', 'value'], ['const', 1]])).toEqual(['condition[1][1]: unknown fact "value"']);
  });

  it('refuses comparisons that can never hold and operands of the wrong type', () => {
    expect(issues(['eq', ['lookup', 'dataset.age_hours', 0], ['const', '80']])).toEqual(['condition[2]: ["lookup","dataset.age_hours",0] (a number) and ["const","80"] (a string) can never be equal']);
    expect(issues(['lt', ['lookup', 'dataset.release'], ['const', 80]])).toEqual(['condition[2]: "lt" cannot compare ["lookup","dataset.release"] (a string) with ["const",80] (a number)']);
    expect(issues(['and', ['lookup', 'dataset.release']])).toEqual(['condition[1]: "and" needs true/false, but ["lookup","dataset.release"] is a string']);
    expect(issues(['not', ['+', ['const', 1], ['const', 2]]])).toEqual(['condition[1]: "not" needs true/false, but ["+",["const",1],["const",2]] is a number']);
    expect(issues(['gt', ['upcase', ['lookup', 'cutout.width']], ['const', 'A']])).toEqual(['condition[1][1]: "upcase" needs a string, but ["lookup","cutout.width"] is a number']);
    expect(issues(['any', 'dataset.release', ['const', true]])).toEqual(['condition[1]: "any" needs a list, but "dataset.release" is a string']);
  });

  it('refuses a nullable fact where null cannot go, unless the lookup has a default', () => {
    expect(issues(['lt', ['lookup', 'dataset.age_hours'], ['const', 80]])).toEqual([
      'condition[1]: ["lookup","dataset.age_hours"] can be null, which "lt" cannot use; give the lookup a default, e.g. ["lookup", "dataset.age_hours", 0]',
    ]);
    expect(issues(['lt', ['lookup', 'dataset.age_hours', 0], ['const', 80]])).toEqual([]);
    expect(issues(['lt', ['lookup', 'dataset.observed_at'], ['const', '2026-01-01']])).toEqual([
      'condition[1]: ["lookup","dataset.observed_at"] can be null, which "lt" cannot use; give the lookup a default, e.g. ["lookup", "dataset.observed_at", ""]',
    ]);
    // eq may compare with null.
    expect(issues(['eq', ['lookup', 'position.ra'], ['const', null]])).toEqual([]);
  });

  it('reports every problem, not just the first', () => {
    expect(issues(['and', ['gtee', ['const', 1]], ['lookup', 'nope.x'], ['not']])).toEqual([
      'condition[1]: unknown operator "gtee" (did you mean "gte"?)',
      'condition[2][1]: unknown fact "nope"',
      'condition[3]: "not" takes 1 argument, got 0',
    ]);
  });
});

describe('trace', () => {
  it('shows looked-up values and each step', () => {
    const t = run(['and', ['eq', ['lookup', 'dataset.release'], ['const', 'prompt']], ['lt', ['lookup', 'dataset.age_hours', 0], ['const', 80]]], facts({ dataset: { release: 'prompt', age_hours: 12.5 } }));
    expect(formatTrace(t)).toBe(['and → true', '  dataset.release ("prompt") == "prompt" → true', '  dataset.age_hours (12.5) < 80 → true'].join('\n'));
  });

  it('shows defaults, computed values and short-circuited operands', () => {
    const t = run(
      ['or', ['gt', ['+', ['lookup', 'counts.collection_published'], ['lookup', 'counts.batch_position']], ['const', 100]], ['lt', ['lookup', 'dataset.age_hours', 0], ['const', 80]], ['const', true]],
      facts({ dataset: { age_hours: null }, counts: { collection_published: 99, batch_position: 1 } }),
    );
    expect(formatTrace(t)).toBe(
      [
        'or → true',
        '  (counts.collection_published (99) + counts.batch_position (1) = 100) > 100 → false',
        '  dataset.age_hours (null, default 0) < 80 → true',
        '  … 1 more not evaluated',
      ].join('\n'),
    );
  });

  it('lists any/all elements with their index', () => {
    const t = run(['any', 'owner.data_rights', ['eq', ['lookup', 'value'], ['lookup', 'dataset.release']]], facts({ dataset: { release: 'dr1' } }));
    expect(formatTrace(t)).toBe(
      ['any of owner.data_rights (2 items) → true', '  [0] value ("dp1") == dataset.release ("dr1") → false', '  [1] value ("dr1") == dataset.release ("dr1") → true'].join('\n'),
    );
  });
});
