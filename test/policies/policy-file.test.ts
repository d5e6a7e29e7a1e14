import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { loadPolicyFile, parsePolicy, PolicyFileError } from '../../src/policies/policy-file.js';

const FILE = 'policies/test.yaml';

const GOOD = `name: test-policy
version: "2026-11-23.1"
evaluation: all
params:
  embargo_hours: 80
rules:
  - id: prompt-embargo
    description: Prompt data is embargoed
    condition:
      [and,
        [eq, [lookup, dataset.release], [const, prompt]],
        [lt, [lookup, dataset.age_hours, 0], [lookup, params.embargo_hours]]]
    effects:
      - action: reject
        reason: embargoed
  - id: cap
    description: Limit
    condition: [const, true]
    effects:
      - {action: cap, max_per_collection: 100}
      - action: strip_coordinates
`;

/** The error lines parsePolicy gives for `text`. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, FILE);
  } catch (e) {
    if (e instanceof PolicyFileError) {
      expect(e.message.split('\n')).toHaveLength(e.issues.length);
      return e.message.split('\n');
    }
    throw e;
  }
  throw new Error('expected the policy to be refused');
}

describe('parsePolicy', () => {
  it('compiles a valid file with its name, version, digest and rules in order', () => {
    const p = parsePolicy(GOOD, FILE);
    expect(p.name).toBe('test-policy');
    expect(p.version).toBe('2026-11-23.1');
    expect(p.evaluation).toBe('all');
    expect(p.params).toEqual({ embargo_hours: 80 });
    expect(p.rules.map((r) => r.id)).toEqual(['prompt-embargo', 'cap']);
    expect(p.rules[1].effects).toEqual([{ action: 'cap', max_per_collection: 100 }, { action: 'strip_coordinates' }]);
    expect(p.rules[0].condition).toEqual([
      'and',
      ['eq', ['lookup', 'dataset.release'], ['const', 'prompt']],
      ['lt', ['lookup', 'dataset.age_hours', 0], ['lookup', 'params.embargo_hours']],
    ]);
    expect(p.source).toEqual({ file: FILE, digest: createHash('sha256').update(GOOD).digest('hex') });
  });

  it('reads JSON too', () => {
    const json = JSON.stringify({
      name: 'j',
      version: '1',
      evaluation: 'first_match',
      rules: [{ id: 'r', description: 'd', condition: ['gt', ['lookup', 'cutout.width'], ['const', 10]], effects: [{ action: 'auto_approve' }] }],
    });
    const p = parsePolicy(json, 'policies/j.json');
    expect(p.evaluation).toBe('first_match');
    expect(p.rules[0].effects).toEqual([{ action: 'auto_approve' }]);
  });

  it('names file, rule, position in the condition and line for a bad operator', () => {
    const bad = GOOD.replace('[lt, [lookup, dataset.age_hours', '[gtee, [lookup, dataset.age_hours');
    expect(problems(bad)).toEqual(['policies/test.yaml: rule "prompt-embargo": condition[2]: unknown operator "gtee" (did you mean "gte"?) (line 12)']);
  });

  it('lists every problem across rules, each with its rule and line', () => {
    const bad = GOOD.replace('[lookup, params.embargo_hours]', '[lookup, params.embargo]').replace('[const, true]', '[lookup, dataset.release]');
    expect(problems(bad)).toEqual([
      'policies/test.yaml: rule "prompt-embargo": condition[2][2][1]: unknown fact "params.embargo" (line 12)',
      'policies/test.yaml: rule "cap": condition: the condition must give true/false (use a comparison, "not", "and", "or", "any" or "all") (line 18)',
    ]);
  });

  it('refuses wrong or missing fields, naming the rule by id', () => {
    expect(problems(GOOD.replace('version: "2026-11-23.1"', 'version: 3'))).toEqual([
      'policies/test.yaml: version: version must be a string such as "2026-11-23.1" (quote it in YAML) (line 2)',
    ]);
    expect(problems(GOOD.replace('evaluation: all', 'evaluation: every'))).toEqual(['policies/test.yaml: evaluation: evaluation must be "all" or "first_match" (line 3)']);
    expect(problems(GOOD.replace('evaluation: all\n', ''))).toEqual(['policies/test.yaml: evaluation: missing (line 1)']);
    expect(problems(GOOD.replace('name: test-policy', 'name: test-policy\nevaluaton: all'))).toEqual(['policies/test.yaml: unknown key "evaluaton" (line 1)']);
    expect(problems(GOOD.replace('action: reject', 'action: rejct'))).toEqual([
      'policies/test.yaml: rule "prompt-embargo": effects[0].action: unknown action "rejct"; expected one of reject, hold, require_review, auto_approve, strip_coordinates, cap, one_incomplete_set (line 14)',
    ]);
    expect(problems(GOOD.replace('max_per_collection: 100', 'max_per_colection: 100'))).toEqual([
      'policies/test.yaml: rule "cap": effects[0]: unknown key "max_per_colection" (line 20)',
      'policies/test.yaml: rule "cap": effects[0]: cap needs max_per_batch and/or max_per_collection (line 20)',
    ]);
    expect(problems(GOOD.replace('max_per_collection: 100', 'max_per_collection: 0'))).toEqual([
      'policies/test.yaml: rule "cap": effects[0].max_per_collection: must be at least 1 (line 20)',
    ]);
    expect(problems(GOOD.replace('        reason: embargoed\n', ''))).toEqual(['policies/test.yaml: rule "prompt-embargo": effects[0].reason: missing (line 14)']);
    expect(problems(GOOD.replace('    description: Limit\n', ''))).toEqual(['policies/test.yaml: rule "cap": description: missing (line 16)']);
    expect(problems(GOOD.replace('  - id: cap', '  - id: Cap Rule'))).toEqual([
      'policies/test.yaml: rule "Cap Rule": id: id must be lower case letters, digits, "-", "_" or "." (e.g. "prompt-embargo") (line 16)',
    ]);
  });

  it('refuses a rule without a condition or effects, and duplicate ids', () => {
    const noCondition = GOOD.replace('    condition: [const, true]\n', '');
    expect(problems(noCondition)).toEqual(['policies/test.yaml: rule "cap": condition: missing (line 16)']);
    expect(problems(GOOD.replace(/    effects:\n      - \{action: cap.*\n      - action: strip_coordinates\n/, '    effects: []\n'))).toEqual([
      'policies/test.yaml: rule "cap": effects: a rule needs at least one effect (line 19)',
    ]);
    expect(problems(GOOD.replace('  - id: cap', '  - id: prompt-embargo'))).toEqual(['policies/test.yaml: rule "prompt-embargo": id: duplicate rule id (also rule #1) (line 16)']);
  });

  it('refuses text that is not YAML, with the line', () => {
    expect(problems('name: x\nrules: [unclosed\n')).toEqual([expect.stringMatching(/^policies\/test\.yaml: not valid YAML\/JSON: .* \(line \d\)$/)]);
    expect(problems('name: x\nname: y\n')).toEqual([expect.stringMatching(/^policies\/test\.yaml: not valid YAML\/JSON: Map keys must be unique.* \(line 2\)$/)]);
  });

  it('is a ValidationError carrying file and issues', () => {
    try {
      parsePolicy('name: x', FILE);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as PolicyFileError).code).toBe('validation_failed');
      expect((e as PolicyFileError).file).toBe(FILE);
      expect((e as PolicyFileError).issues.map((i) => i.at)).toEqual(['version', 'evaluation', 'rules']);
    }
  });
});

describe('loadPolicyFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policy-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('digests the bytes of the file', async () => {
    const path = join(dir, 'p.yaml');
    await writeFile(path, GOOD);
    const p = await loadPolicyFile(path);
    expect(p.source.digest).toBe(createHash('sha256').update(Buffer.from(GOOD)).digest('hex'));
    expect(p.source.file).toBe(path);
    // A one-character change is a different digest.
    await writeFile(path, GOOD.replace('embargoed\n', 'embargoed.\n'));
    expect((await loadPolicyFile(path)).source.digest).not.toBe(p.source.digest);
  });

  it('names a missing file', async () => {
    await expect(loadPolicyFile(join(dir, 'nope.yaml'), 'policies/nope.yaml')).rejects.toThrow('policies/nope.yaml: cannot read: ENOENT');
  });
});
