import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { evaluatePolicy, explainEvaluation, formatExplanation, PolicyEvaluationError } from '../../src/policies/evaluate.js';
import { parsePolicy, type Policy } from '../../src/policies/policy-file.js';
import { facts } from './helpers.js';

/** A policy from rules written as YAML list items. */
function policy(rules: string, evaluation: 'all' | 'first_match' = 'all'): Policy {
  return parsePolicy(`name: t\nversion: "7"\nevaluation: ${evaluation}\nrules:\n${rules}`, 'policies/t.yaml');
}

const rule = (id: string, condition: string, ...effects: string[]) =>
  `  - id: ${id}\n    description: rule ${id}\n    condition: ${condition}\n    effects:\n${effects.map((e) => `      - ${e}\n`).join('')}`;

const TRUE = '[const, true]';
const FALSE = '[const, false]';
const UNAPPROVED = '[eq, [lookup, collection.panel_approval], [const, none]]';

describe('effect combination', () => {
  it('reject wins over everything, and keeps every reason', () => {
    const p = policy(
      rule('approve', TRUE, '{action: auto_approve}') +
        rule('review', TRUE, '{action: require_review}') +
        rule('no-a', TRUE, '{action: reject, reason: first refusal}') +
        rule('no-b', TRUE, '{action: reject, reason: second refusal}'),
    );
    const v = evaluatePolicy(p, facts());
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual(['first refusal', 'second refusal']);
    expect(v.matched.map((m) => m.rule_id)).toEqual(['approve', 'review', 'no-a', 'no-b']);
  });

  it('require_review beats auto_approve', () => {
    const v = evaluatePolicy(policy(rule('approve', TRUE, '{action: auto_approve}') + rule('review', TRUE, '{action: require_review, reason: look at it}')), facts());
    expect(v.outcome).toBe('pending_review');
    expect(v.reasons).toEqual(['look at it']);
  });

  it('auto_approve alone approves, with a default reason naming the rule', () => {
    const v = evaluatePolicy(policy(rule('approve', UNAPPROVED, '{action: auto_approve}') + rule('never', FALSE, '{action: reject, reason: no}')), facts());
    expect(v.outcome).toBe('auto_approved');
    expect(v.reasons).toEqual(['approved by rule "approve" (rule approve)']);
  });

  it('no decisive effect leaves the image pending review', () => {
    const v = evaluatePolicy(policy(rule('strip', TRUE, '{action: strip_coordinates}') + rule('never', FALSE, '{action: auto_approve}')), facts());
    expect(v.outcome).toBe('pending_review');
    expect(v.reasons).toEqual(['no rule approved or rejected the image, so it waits for a reviewer']);
    expect(v.strip_coordinates).toBe(true);
  });

  it('strip_coordinates only from matched rules', () => {
    const v = evaluatePolicy(policy(rule('strip', FALSE, '{action: strip_coordinates}') + rule('ok', TRUE, '{action: auto_approve}')), facts());
    expect(v.strip_coordinates).toBe(false);
    expect(v.outcome).toBe('auto_approved');
  });

  it('one_incomplete_set paces the image only when its rule matched, whatever the outcome', () => {
    const paced = evaluatePolicy(policy(rule('pace', TRUE, '{action: one_incomplete_set}') + rule('ok', TRUE, '{action: auto_approve}')), facts());
    expect(paced).toMatchObject({ outcome: 'auto_approved', one_incomplete_set: true });
    const not = evaluatePolicy(policy(rule('pace', FALSE, '{action: one_incomplete_set}') + rule('ok', TRUE, '{action: auto_approve}')), facts());
    expect(not.one_incomplete_set).toBe(false);
  });

  it('carries the policy name, version and digest', () => {
    const p = policy(rule('ok', TRUE, '{action: auto_approve}'));
    expect(evaluatePolicy(p, facts()).policy).toEqual({ name: 't', version: '7', digest: p.source.digest, ref: 't@7' });
    expect(p.source.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('caps', () => {
  const caps = policy(
    rule('loose', TRUE, '{action: cap, max_per_batch: 50, max_per_collection: 1000}') +
      rule('tight', TRUE, '{action: cap, max_per_collection: 100}') +
      rule('tighter-batch', UNAPPROVED, '{action: cap, max_per_batch: 10}') +
      rule('ok', TRUE, '{action: auto_approve}'),
  );

  it('the smallest of each kind applies', () => {
    expect(evaluatePolicy(caps, facts()).caps).toEqual({ max_per_batch: 10, max_per_collection: 100 });
    expect(evaluatePolicy(caps, facts({ collection: { panel_approval: 'approved' } })).caps).toEqual({ max_per_batch: 50, max_per_collection: 100 });
  });

  it('the first max_per_batch images of a batch pass, the next is rejected naming the cap', () => {
    expect(evaluatePolicy(caps, facts({ counts: { batch: 20, batch_position: 10 } })).outcome).toBe('auto_approved');
    const v = evaluatePolicy(caps, facts({ counts: { batch: 20, batch_position: 11 } }));
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual(['over the per-batch cap: image 11 of 20 in this batch, max_per_batch is 10 (rule "tighter-batch")']);
  });

  it('the collection total counts images already published plus this image\'s place in the batch', () => {
    const at = (published: number, position: number) =>
      evaluatePolicy(caps, facts({ collection: { panel_approval: 'approved' }, counts: { batch: 50, batch_position: position, collection_published: published } }));
    expect(at(60, 40).outcome).toBe('auto_approved');
    const v = at(60, 41);
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual(['over the per-collection cap: 60 already published + image 41 of this batch = 101, max_per_collection is 100 (rule "tight")']);
  });

  it('caps of rules that did not match do not apply', () => {
    const v = evaluatePolicy(policy(rule('cap', FALSE, '{action: cap, max_per_batch: 1}') + rule('ok', TRUE, '{action: auto_approve}')), facts({ counts: { batch: 5, batch_position: 5 } }));
    expect(v.caps).toEqual({});
    expect(v.outcome).toBe('auto_approved');
  });
});

describe('evaluation modes', () => {
  const rules = rule('first', UNAPPROVED, '{action: require_review}') + rule('second', TRUE, '{action: reject, reason: always}');

  it('all: every true rule contributes', () => {
    const v = evaluatePolicy(policy(rules, 'all'), facts());
    expect(v.matched.map((m) => m.rule_id)).toEqual(['first', 'second']);
    expect(v.outcome).toBe('rejected');
  });

  it('first_match: only the first true rule counts, in file order', () => {
    const p = policy(rules, 'first_match');
    const v = evaluatePolicy(p, facts());
    expect(v.matched.map((m) => m.rule_id)).toEqual(['first']);
    expect(v.outcome).toBe('pending_review');
    // When the first does not match, the second decides.
    const approved = evaluatePolicy(p, facts({ collection: { panel_approval: 'approved' } }));
    expect(approved.matched.map((m) => m.rule_id)).toEqual(['second']);
    expect(approved.outcome).toBe('rejected');
  });

  it('first_match: a rule after the match is not evaluated, so its run-time errors do not matter', () => {
    const p = policy(rule('first', TRUE, '{action: auto_approve}') + rule('broken', '[gt, [/, [const, 1], [lookup, counts.collection_today]], [const, 0]]', '{action: reject, reason: x}'), 'first_match');
    expect(evaluatePolicy(p, facts()).outcome).toBe('auto_approved');
    expect(() => evaluatePolicy(policy(rule('first', TRUE, '{action: auto_approve}') + rule('broken', '[gt, [/, [const, 1], [lookup, counts.collection_today]], [const, 0]]', '{action: reject, reason: x}')), facts())).toThrow(
      PolicyEvaluationError,
    );
  });
});

describe('run-time failures', () => {
  const broken = policy(rule('ok', TRUE, '{action: auto_approve}') + rule('ratio', '[gt, [/, [lookup, counts.batch], [lookup, counts.collection_today]], [const, 2]]', '{action: reject, reason: too fast}'));

  it('give no verdict, and an error naming file, rule and place', () => {
    let err: unknown;
    try {
      evaluatePolicy(broken, facts());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyEvaluationError);
    expect((err as PolicyEvaluationError).message).toBe('policies/t.yaml: rule "ratio": condition[1]: division by zero (20 / 0)');
    expect((err as PolicyEvaluationError).code).toBe('policy_evaluation_failed');
    expect((err as PolicyEvaluationError).detail).toEqual({ policy: 't@7', rule_id: 'ratio' });
    // With data that does not divide by zero the same rule works.
    expect(evaluatePolicy(broken, facts({ counts: { collection_today: 20 } })).outcome).toBe('auto_approved');
    expect(evaluatePolicy(broken, facts({ counts: { collection_today: 5 } })).reasons).toEqual(['too fast']);
  });

  it('bad facts are refused field by field', () => {
    const bad = facts({ counts: { batch: 3, batch_position: 4 }, dataset: { observed_at: 'yesterday' } });
    expect(() => evaluatePolicy(broken, bad)).toThrow(ValidationError);
    expect(() => evaluatePolicy(broken, bad)).toThrow(/dataset\.observed_at: not an ISO 8601 time.*counts\.batch_position: batch_position is beyond batch/);
    expect(() => evaluatePolicy(broken, { ...facts(), extra: 1 } as never)).toThrow(/Unrecognized key/);
  });
});

describe('explainEvaluation', () => {
  const p = policy(
    rule('embargo', '[and, [eq, [lookup, dataset.release], [const, prompt]], [lt, [lookup, dataset.age_hours, 0], [const, 80]]]', '{action: reject, reason: embargoed}') +
      rule('strip', UNAPPROVED, '{action: strip_coordinates}') +
      rule('review', TRUE, '{action: require_review}'),
    'first_match',
  );

  it('reports every rule, with traces, including those first_match did not reach', () => {
    const x = explainEvaluation(p, facts({ dataset: { release: 'prompt', age_hours: 12.5 } }));
    expect(x.verdict?.outcome).toBe('rejected');
    expect(x.rules.map((r) => [r.rule_id, r.reached, r.result, r.matched])).toEqual([
      ['embargo', true, true, true],
      ['strip', false, true, false],
      ['review', false, true, false],
    ]);
    expect(x.rules[0].explanation).toBe(['and → true', '  dataset.release ("prompt") == "prompt" → true', '  dataset.age_hours (12.5) < 80 → true'].join('\n'));
    expect(x.verdict?.matched[0].explanation).toBe(x.rules[0].explanation);
    // The verdict is the one evaluatePolicy gives.
    expect(x.verdict).toEqual(evaluatePolicy(p, facts({ dataset: { release: 'prompt', age_hours: 12.5 } })));
  });

  it('formats as text a reviewer can read', () => {
    const text = formatExplanation(explainEvaluation(p, facts({ dataset: { release: 'prompt', age_hours: 12.5 } })));
    expect(text).toBe(
      [
        `Policy t@7 (sha256 ${p.source.digest.slice(0, 12)}), evaluation: first_match`,
        'Outcome: rejected',
        '  - embargoed',
        'Coordinates: kept',
        'Caps: none',
        '',
        '[matched] embargo: rule embargo',
        '    effects: reject ("embargoed")',
        '    and → true',
        '      dataset.release ("prompt") == "prompt" → true',
        '      dataset.age_hours (12.5) < 80 → true',
        '[true, not reached] strip: rule strip',
        '    effects: strip_coordinates',
        '    collection.panel_approval ("none") == "none" → true',
        '[true, not reached] review: rule review',
        '    effects: require_review',
        '    true → true',
      ].join('\n'),
    );
  });

  it('shows a failing rule and no verdict, but still explains the others', () => {
    const q = policy(rule('ratio', '[gt, [/, [const, 1], [lookup, counts.collection_today]], [const, 2]]', '{action: reject, reason: x}') + rule('review', TRUE, '{action: require_review}'));
    const x = explainEvaluation(q, facts());
    expect(x.verdict).toBeNull();
    expect(x.error).toBe('policies/t.yaml: rule "ratio": condition[1]: division by zero (1 / 0)');
    expect(x.rules[0]).toMatchObject({ error: x.error, result: null, matched: false, reached: true });
    expect(x.rules[1]).toMatchObject({ result: true, reached: false, matched: false });
    const text = formatExplanation(x);
    expect(text).toContain('Outcome: none, evaluation failed (the image stays in quarantine)');
    expect(text).toContain('[error] ratio: rule ratio');
  });
});
