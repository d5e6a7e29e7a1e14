import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/domain/errors.js';
import { bindingsFor, parseResultsRules, resultsRulesDigest, ResultsRulesError } from '../../src/domain/results-rules.js';
import { evaluateCondition } from '../../src/policies/caesar.js';
import { reduceAll } from '../../src/results/index.js';
import { generateClassifications, TASKS, WORKFLOW_ID } from '../support/classifications.js';

/*
 * The results rules file: the shipped example loads, every mistake a PI can
 * make is refused with the line and rule it is on (an unknown lookup path
 * included, at load rather than silently never matching), and the bindings
 * a condition reads are the subject's reduction.
 */

const rule = (body: string) => `name: t\nversion: "1"\nrules:\n  - id: r1\n${body}`;

function issuesOf(source: string): string[] {
  try {
    parseResultsRules(source, 'rules.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ResultsRulesError);
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ResultsRulesError).message.split('\n');
  }
  throw new Error('the file was accepted');
}

describe('parseResultsRules', () => {
  it('loads the shipped example with its reduce settings, rules, effects and digest', async () => {
    const source = await readFile('policies/results/example.yaml', 'utf8');
    const r = parseResultsRules(source, 'results/example.yaml');
    expect(r).toMatchObject({ name: 'galaxy-mergers-results', version: '1', workflow: '4321', digest: resultsRulesDigest(source) });
    expect(r.reduce).toEqual({ repeats: 'first', dbscan: { eps: 5, minSamples: 3 }, swap: { task: 'T0', yes: 'Yes', no: 'No', prior: 0.0002, detect: 0.95, reject: 1e-7 } });
    expect(r.rules.map((x) => [x.id, x.task, x.effects.map((e) => e.kind)])).toEqual([
      ['retire-on-consensus', 'T0', ['retire_subject']],
      ['ambiguous-to-experts', 'T0', ['add_subject_to_set', 'notify', 'flag']],
    ]);
    expect(r.rules[0].effects[0]).toEqual({ kind: 'retire_subject', reason: 'consensus' });
    expect(r.rules[1].effects[0]).toEqual({ kind: 'add_subject_to_set', subjectSetId: '9876' });
  });

  it('refuses a lookup of an unknown path at load, naming the line, rule and place, with a suggestion', () => {
    const lines = issuesOf(rule('    task: T0\n    condition: [gte, [lookup, consensus.agreemnt, 0], [const, 0.8]]\n    effects:\n      - flag: { label: x }\n'));
    expect(lines).toEqual(['rules.yaml: line 6: rule "r1": condition[1][1]: unknown fact "consensus.agreemnt" (did you mean "consensus.agreement"?)']);
    const noTask = issuesOf(rule('    condition: [gte, [lookup, votes.Yes, 0], [const, 3]]\n    effects:\n      - flag: { label: x }\n'));
    expect(noTask[0]).toMatch(/line 5: rule "r1": .*unknown fact "votes".*this rule has no task/);
  });

  it('refuses unknown effects, bad reasons, bad ids, two effects in one item, and says where each is', () => {
    const lines = issuesOf(
      rule(
        [
          '    task: T0',
          '    condition: [gte, [lookup, classifications, 0], [const, 5]]',
          '    effects:',
          '      - retire_subject: { reason: finished }',
          '      - add_subject_to_set: { subject_set_id: expert-set }',
          '      - move_to_set: { subject_set_id: "1" }',
          '',
        ].join('\n'),
      ),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^rules\.yaml: line 8: rule "r1": effects\[0\]\.retire_subject\.reason: reason must be one of classification_count, flagged/));
    expect(lines).toContainEqual(expect.stringMatching(/^rules\.yaml: line 9: rule "r1": effects\[1\]\.add_subject_to_set\.subject_set_id: .*digits only/));
    expect(lines).toContainEqual(expect.stringMatching(/^rules\.yaml: line 10: rule "r1": effects\[2\]: unknown key "move_to_set"/));
    const two = issuesOf(rule('    task: T0\n    condition: [const, true]\n    effects:\n      - flag: { label: x }\n        notify: {}\n'));
    expect(two).toEqual([expect.stringMatching(/line 8: rule "r1": effects\[0\]: each effect names exactly one of/)]);
  });

  it('refuses a condition that is not true/false, a null without a default, duplicate ids, SWAP with repeats last, and bad YAML', () => {
    expect(issuesOf(rule('    task: T0\n    condition: [lookup, consensus.agreement]\n    effects: [{ flag: { label: x } }]\n'))).toEqual([expect.stringMatching(/line 6: rule "r1": condition: the condition must give true\/false/)]);
    expect(issuesOf(rule('    task: T0\n    condition: [gte, [lookup, evenness], [const, 0.5]]\n    effects: [{ flag: { label: x } }]\n'))[0]).toMatch(/line 6: .*can be null.*give the lookup a default/);
    const dup = issuesOf(`${rule('    condition: [const, true]\n    effects: [{ flag: { label: x } }]\n')}  - id: r1\n    condition: [const, true]\n    effects: [{ flag: { label: y } }]\n`);
    expect(dup).toEqual([expect.stringMatching(/line 7: rule "r1": id: duplicate rule id \(also rule #1\)/)]);
    const swap = issuesOf(`name: t\nversion: "1"\nreduce:\n  repeats: last\n  swap: { task: T0, "yes": "Yes", "no": "No" }\nrules:\n  - id: r1\n    condition: [const, true]\n    effects: [{ flag: { label: x } }]\n`);
    expect(swap).toEqual([expect.stringMatching(/line 5: reduce\.swap: SWAP cannot run with repeats "last"/)]);
    expect(issuesOf('name: t\nversion: "1"\nrules: [\n')[0]).toMatch(/^rules\.yaml: line \d+: not valid YAML/);
    expect(issuesOf('name: t\nversion: "1"\n')).toEqual(['rules.yaml: line 1: rules: missing']);
  });

  it('gives conditions the reduction of their task: consensus, votes, fractions, classifications, retired', () => {
    const red = reduceAll(generateClassifications({ seed: 3, subjects: 4, perSubject: 7, volunteers: 20, repeats: 0 }), { workflows: { [WORKFLOW_ID]: TASKS } }).subjects[0];
    const t0 = red.tasks.T0;
    if (t0.kind !== 'question') throw new Error('T0 is a question');
    const r = parseResultsRules(rule('    task: T0\n    condition: [and, [eq, [lookup, consensus.most_likely, ""], [const, "x"]]]\n    effects: [{ flag: { label: x } }]\n'));
    const b = bindingsFor(r.rules[0], red, true) as Record<string, unknown>;
    expect(b).toMatchObject({ classifications: t0.classifications, retired: true, consensus: t0.consensus, evenness: t0.evenness });
    expect(b.votes).toEqual({ ...t0.counts });
    const check = (cond: string) => evaluateCondition(parseResultsRules(rule(`    task: T0\n    condition: ${cond}\n    effects: [{ flag: { label: x } }]\n`)).rules[0].expr, b).result;
    expect(check(`[eq, [lookup, consensus.most_likely, ""], [const, ${JSON.stringify(t0.consensus.most_likely)}]]`)).toBe(true);
    expect(check(`[eq, [lookup, votes.${t0.consensus.most_likely}, 0], [const, ${t0.consensus.num_votes}]]`)).toBe(true);
    expect(check('[gte, [lookup, votes.NoSuchAnswer, 0], [const, 1]]')).toBe(false);
    expect(check('[lookup, retired]')).toBe(true);
    // A task the subject has no reduction for reads as nothing counted.
    const none = bindingsFor({ task: 'T9' }, red, false) as Record<string, unknown>;
    expect(none).toMatchObject({ classifications: 0, consensus: { most_likely: null, agreement: 0, num_votes: 0, total_votes: 0 } });
  });
});
