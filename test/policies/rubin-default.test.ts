import fc from 'fast-check';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../src/policies/evaluate.js';
import type { PolicyFacts } from '../../src/policies/facts.js';
import { explainPolicy } from '../../src/policies/policy-commands.js';
import { loadPolicyFile, type Policy } from '../../src/policies/policy-file.js';
import { facts } from './helpers.js';

const FILE = join(import.meta.dirname, '../../policies/rubin-default.yaml');
const EMBARGO = 'prompt data is under its 80-hour embargo';
const HELD = 'waiting for Data Rights Panel approval: the data is proprietary';
const NO_RIGHTS = "the collection's owner holds no data rights for this data release";
const REVIEW = 'every image is checked by an EPO reviewer before publication';

let policy: Policy;
beforeAll(async () => {
  policy = await loadPolicyFile(FILE);
});

const approved = { collection: { panel_approval: 'approved' } } as const;

describe('policies/rubin-default.yaml', () => {
  it('loads, with every rule the issue asks for', () => {
    expect(policy.name).toBe('rubin-default');
    expect(policy.version).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    expect(policy.evaluation).toBe('all');
    expect(policy.rules.map((r) => r.id)).toEqual([
      'prompt-embargo',
      'proprietary-needs-approval',
      'owner-holds-data-rights',
      'strip-coordinates-before-approval',
      'pre-approval-limit',
      'post-approval-limit',
      'epo-review',
    ]);
  });

  it('refuses prompt data 10 hours old, even for an approved collection', () => {
    const young = { dataset: { release: 'prompt', age_hours: 10 } };
    const v = evaluatePolicy(policy, facts(young));
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toContain(EMBARGO);
    const va = evaluatePolicy(policy, facts({ ...young, ...approved }));
    expect(va.outcome).toBe('rejected');
    expect(va.reasons).toEqual([EMBARGO]);
  });

  it('treats prompt data of unknown age as under embargo', () => {
    const v = evaluatePolicy(policy, facts({ ...approved, dataset: { release: 'prompt', observed_at: null, age_hours: null } }));
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual([EMBARGO]);
  });

  it('prompt data past the embargo stays proprietary, whatever age its header claims', () => {
    const old = { dataset: { release: 'prompt', age_hours: 100 } };
    expect(evaluatePolicy(policy, facts(old))).toMatchObject({ outcome: 'held', reasons: [HELD] });
    const va = evaluatePolicy(policy, facts({ ...old, ...approved }));
    expect(va.outcome).toBe('pending_review');
    expect(va.strip_coordinates).toBe(false);
    // Its age comes from the cutout's header, which the PI writes: no claimed age makes it public.
    expect(evaluatePolicy(policy, facts({ dataset: { release: 'prompt', age_hours: 17520 } })).reasons).toEqual([HELD]);
    expect(evaluatePolicy(policy, facts({ dataset: { release: 'prompt', age_hours: 1e9 } })).reasons).toEqual([HELD]);
  });

  it('a repository the release mapping does not name (release unknown) is rejected, approved or not, whatever its age', () => {
    const unknown = { release: 'unknown', release_source: 'unmapped', proprietary: true, embargo_hours: 80 } as const;
    // Unapproved: proprietary, and under the mapping's embargo while its age is unknown.
    const v = evaluatePolicy(policy, facts({ dataset: { ...unknown, observed_at: null, age_hours: null } }));
    expect(v.outcome).toBe('rejected');
    // Refused, and the hold it would meet after that is named too.
    expect(v.reasons).toEqual([EMBARGO, NO_RIGHTS, HELD]);
    // Approved, and claiming to be old: still no owner holds rights for "unknown", and it never ages into public.
    const va = evaluatePolicy(policy, facts({ ...approved, owner: { data_rights: ['dp1', 'dr1', 'prompt'] }, dataset: { ...unknown, age_hours: 30000 } }));
    expect(va.outcome).toBe('rejected');
    expect(va.reasons).toEqual([NO_RIGHTS]);
  });

  it('the mapping can only make a release stricter: proprietary or embargoed by the mapping wins over a public name', () => {
    const v = evaluatePolicy(policy, facts({ dataset: { release: 'dp0.2', proprietary: true, embargo_hours: 0 } }));
    expect(v.reasons).toEqual([HELD]);
    const e = evaluatePolicy(policy, facts({ ...approved, dataset: { release: 'dp0.2', proprietary: false, embargo_hours: 80, observed_at: null, age_hours: null } }));
    expect(e.reasons).toEqual([EMBARGO]);
    expect(evaluatePolicy(policy, facts({ dataset: { release: 'dp0.2', proprietary: false, embargo_hours: 80, age_hours: 81 } })).outcome).toBe('pending_review');
  });

  it('holds a proprietary data release (dr1) until the panel approves: held, not refused, and not reviewable', () => {
    const v = evaluatePolicy(policy, facts({ dataset: { release: 'dr1', age_hours: 30000 } }));
    expect(v.outcome).toBe('held');
    expect(v.reasons).toEqual([HELD]);
    expect(v.matched.map((m) => m.rule_id)).toContain('proprietary-needs-approval');
  });

  it('sends dr1 with panel approval to review, keeping coordinates, under the 10,000 per batch limit', () => {
    const v = evaluatePolicy(policy, facts({ ...approved, dataset: { release: 'dr1' } }));
    expect(v.outcome).toBe('pending_review');
    expect(v.reasons).toEqual([REVIEW]);
    expect(v.strip_coordinates).toBe(false);
    expect(v.caps).toEqual({ max_per_batch: 10000 });
    expect(v.policy.ref).toBe(`rubin-default@${policy.version}`);
  });

  it('refuses a proprietary release the owner holds no data rights for, even with approval', () => {
    const v = evaluatePolicy(policy, facts({ ...approved, owner: { data_rights: ['dp1'] }, dataset: { release: 'dr1' } }));
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual([NO_RIGHTS]);
  });

  it('sends a public release without panel approval to review, stripping coordinates', () => {
    const v = evaluatePolicy(policy, facts({ owner: { data_rights: [] }, dataset: { release: 'dp0.2' } }));
    expect(v.outcome).toBe('pending_review');
    expect(v.strip_coordinates).toBe(true);
    expect(v.caps).toEqual({ max_per_collection: 100 });
  });

  it('allows 100 images per collection before approval: the 101st is refused by the cap', () => {
    const image = (published: number, position: number) =>
      evaluatePolicy(policy, facts({ dataset: { release: 'dp0.2' }, counts: { batch: 150, batch_position: position, collection_published: published } }));
    expect(image(0, 100).outcome).toBe('pending_review');
    const v = image(0, 101);
    expect(v.outcome).toBe('rejected');
    expect(v.reasons).toEqual(['over the per-collection cap: 0 already published + image 101 of this batch = 101, max_per_collection is 100 (rule "pre-approval-limit")']);
    expect(image(95, 5).outcome).toBe('pending_review');
    expect(image(95, 6).outcome).toBe('rejected');
  });

  it('allows 10,000 per batch after approval, whatever the collection has published', () => {
    const image = (position: number) =>
      evaluatePolicy(policy, facts({ ...approved, counts: { batch: 12000, batch_position: position, collection_published: 50000 } }));
    expect(image(10000).outcome).toBe('pending_review');
    expect(image(10001).outcome).toBe('rejected');
    expect(image(10001).reasons).toEqual(['over the per-batch cap: image 10001 of 12000 in this batch, max_per_batch is 10000 (rule "post-approval-limit")']);
  });

  it('explains with the values it looked up', () => {
    const text = explainPolicy(policy, facts({ dataset: { release: 'prompt', age_hours: 10 } }));
    expect(text).toContain('[matched] prompt-embargo: Prompt images are embargoed for 80 hours after observation');
    expect(text).toContain('dataset.age_hours (10) < params.prompt_embargo_hours (80) → true');
    expect(text).toContain('not (collection.panel_approval ("none") == "approved") → true');
    expect(text).toContain('Coordinates: stripped');
  });

  it('never approves without review, never publishes embargoed prompt data, never keeps coordinates without approval', () => {
    const arbitraryFacts = fc
      .record({
        release: fc.constantFrom('prompt', 'dp0.2', 'dp0.3', 'dp1', 'dr1', 'dr2'),
        age: fc.option(fc.double({ min: -1, max: 40000, noNaN: true }), { nil: null }),
        approval: fc.constantFrom('none', 'approved'),
        rights: fc.subarray(['dp0.2', 'dp1', 'dr1', 'dr2']),
        batch: fc.integer({ min: 1, max: 20000 }),
        published: fc.integer({ min: 0, max: 20000 }),
      })
      .chain((r) => fc.record({ r: fc.constant(r), position: fc.integer({ min: 1, max: r.batch }) }))
      .map(({ r, position }): PolicyFacts =>
        facts({
          collection: { panel_approval: r.approval as 'none' | 'approved' },
          owner: { data_rights: r.rights },
          dataset: { release: r.release, age_hours: r.age },
          counts: { batch: r.batch, batch_position: position, collection_published: r.published },
        }),
      );
    fc.assert(
      fc.property(arbitraryFacts, (f) => {
        const v = evaluatePolicy(policy, f);
        expect(v.outcome).not.toBe('auto_approved');
        if (f.dataset.release === 'prompt' && (f.dataset.age_hours ?? 0) < 80) expect(v.outcome).toBe('rejected');
        if (f.collection.panel_approval !== 'approved') {
          expect(v.strip_coordinates).toBe(true);
          if (f.counts.collection_published + f.counts.batch_position > 100) expect(v.outcome).toBe('rejected');
        }
      }),
      { numRuns: 300 },
    );
  });
});
