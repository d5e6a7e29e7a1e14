import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { applyPolicy, type ReviewDeps } from '../../src/domain/review.js';
import { reevaluateDrift, refreshOwnerRights } from '../../src/domain/reevaluation.js';
import { parseReleaseCatalogue } from '../../src/domain/releases.js';
import { parsePolicy, policyRef } from '../../src/policies/policy-file.js';
import { judged as judge, startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * Facts the policy reads can change after images were judged: a Data Rights
 * Panel approval, an admin's release override, the operator's release
 * mapping, the policy file, the owner's data rights. The images whose
 * verdict the policy gave are judged again, what a reviewer decided stands,
 * and the audit log keeps every verdict. Over real HTTP, Redis and PGlite.
 */
let d: DevApi;
let s: DevApi['s'];
let call: DevApi['call'];
const RELEASES = ['dp02: { release: dp0.2, prompt: false, proprietary: false, embargoHours: 0 }', 'dr1: { release: dr1, prompt: false, proprietary: true, embargoHours: 0 }'].join('\n');

beforeAll(async () => {
  d = await startDevApi({ releasesYaml: RELEASES });
  ({ s, call } = d);
}, 60_000);
afterAll(async () => {
  await d?.close();
});

const admin = { 'x-bridge-dev-roles': 'admin' };
const reviewer = { 'x-bridge-dev-roles': 'reviewer' };

/** Registers `run` from `repository` as alien (holding `rights`), and runs its 3 stamps to their verdicts with `review`. */
const judged = async (repository: string, run: string, rights: string, review?: ReviewDeps): Promise<string> => (await judge(d, repository, run, { rights, stamps: 3, review })).id;

const images = (collectionId: string) => s.db.selectFrom('images').select(['id', 'state', 'verdict', 'verdict_reasons', 'reviewed_by', 'recheck_reason', 'error']).where('collection_id', '=', collectionId).orderBy('stamp_index').execute();
const history = async (imageId: string) => (await s.db.selectFrom('audit_log').select(['action', 'actor']).where('entity_id', '=', imageId).orderBy('id').execute()).map((a) => a.action);
/** Evaluate jobs waiting in Redis for the collection: what a worker would pick up. */
const queuedEvaluations = async (collectionId: string) => (await s.queues.queues.get('review')!.getJobs(['waiting', 'prioritized', 'delayed'])).filter((j) => j.name === 'evaluate' && j.data.collectionId === collectionId).length;

describe('a panel approval recorded after the first verdicts', () => {
  it('turns the images the policy held into pending ones, keeps the old verdict on record, and leaves what a reviewer decided', async () => {
    const id = await judged('dr1', 'u/alien/panel-later', 'dr1');
    const before = await images(id);
    // Registered before the panel decided: held, not refused, and told why.
    expect(before.map((i) => [i.state, i.verdict])).toEqual(Array(3).fill(['quarantined', 'held']));
    expect(before[0].verdict_reasons).toEqual(['waiting for Data Rights Panel approval: the data is proprietary']);
    const early = await call('POST', '/api/v1/review/decisions', 'rev', { imageIds: [before[0].id], action: 'approve' }, reviewer);
    expect(early.body.results[0]).toMatchObject({ ok: false, error: expect.stringMatching(/is held by the policy \(waiting for Data Rights Panel approval/) });

    const set = await call('POST', `/api/v1/collections/${id}/panel-approval`, 'boss', { panelApproval: 'approved', reason: 'DRP minutes 2026-12-01 item 4' }, admin);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ panelApproval: 'approved', reopened: 3 });
    // Back in quarantine without a verdict, the evaluation queued for a worker.
    expect((await images(id)).map((i) => [i.state, i.verdict])).toEqual(Array(3).fill(['quarantined', null]));
    expect(await queuedEvaluations(id)).toBeGreaterThan(0);

    await applyPolicy(s.review, id);
    const after = await images(id);
    expect(after.map((i) => [i.state, i.verdict])).toEqual(Array(3).fill(['quarantined', 'pending_review']));
    expect(after[0].recheck_reason).toMatch(/Data Rights Panel approval changed: none -> approved \(DRP minutes/);
    // Every verdict the image had is in its audit trail, in order.
    expect(await history(after[0].id)).toEqual(['policy_held', 'policy_reopened', 'policy_pending_review']);
    const reopened = await s.db.selectFrom('audit_log').select(['actor', 'detail']).where('entity_id', '=', after[0].id).where('action', '=', 'policy_reopened').executeTakeFirstOrThrow();
    expect(reopened.actor).toBe('boss');
    expect(reopened.detail).toMatchObject({ previous: { state: 'quarantined', verdict: 'held' } });

    // The reviewer sees why it is back, and can now decide.
    const listing = await call('GET', `/api/v1/review/images?collection=${id}`, 'rev', undefined, reviewer);
    expect(listing.status).toBe(200);
    expect(listing.body.items[0].recheckReason).toMatch(/Data Rights Panel approval changed/);
    const ok = await call('POST', '/api/v1/review/decisions', 'rev', { imageIds: [after[0].id], action: 'approve' }, reviewer);
    expect(ok.status).toBe(200);
    expect(ok.body.results[0]).toMatchObject({ ok: true, state: 'approved' });

    // The panel withdraws its approval: the policy's verdicts are redone, the reviewer's approval stands.
    const withdrawn = await call('POST', `/api/v1/collections/${id}/panel-approval`, 'boss', { panelApproval: 'none', reason: 'approval withdrawn' }, admin);
    expect(withdrawn.body.reopened).toBe(2);
    await applyPolicy(s.review, id);
    const last = await images(id);
    expect(last[0]).toMatchObject({ state: 'approved', reviewed_by: 'rev' });
    expect(last.slice(1).map((i) => [i.state, i.verdict])).toEqual(Array(2).fill(['quarantined', 'held']));
    const events = await s.db.selectFrom('events').select(['kind', 'payload']).where('collection_id', '=', id).where('kind', '=', 'verdicts_reopened').orderBy('id').execute();
    expect(events.map((e) => (e.payload as { images: number }).images)).toEqual([3, 2]);
  }, 60_000);

  it('recording the same panel decision again reopens nothing', async () => {
    const id = await judged('dr1', 'u/alien/panel-same', 'dr1');
    const r = await call('POST', `/api/v1/collections/${id}/panel-approval`, 'boss', { panelApproval: 'none', reason: 'confirming the status quo' }, admin);
    expect(r.body.reopened).toBe(0);
    expect((await images(id)).map((i) => i.verdict)).toEqual(['held', 'held', 'held']);
  }, 60_000);
});

describe('a release fact that changes', () => {
  it("an admin's release override re-judges the collection's images", async () => {
    const id = await judged('dr1', 'u/alien/override', 'dr1');
    const r = await call('POST', `/api/v1/collections/${id}/release`, 'boss', { release: 'dp0.2', proprietary: false, embargoHours: 0, reason: 'this run holds DP0.2 re-processing only' }, admin);
    expect(r.status).toBe(200);
    expect(r.body.reopened).toBe(3);
    await applyPolicy(s.review, id);
    const after = await images(id);
    expect(after.map((i) => i.verdict)).toEqual(['pending_review', 'pending_review', 'pending_review']);
    expect(after[0].recheck_reason).toMatch(/release set by an admin: dr1 \(mapping, proprietary, embargo 0 h\) -> dp0\.2 \(admin, public/);
  }, 60_000);

  it('an operator who edits the release mapping: the sweep re-derives the release (audited) and re-judges', async () => {
    const id = await judged('dr1', 'u/alien/remapped', 'dr1');
    const untouched = await judged('dp02', 'u/alien/not-remapped', '');
    const pending = (await images(untouched)).map((i) => i.verdict);
    const mapping = parseReleaseCatalogue({ dp02: { release: 'dp0.2', prompt: false, proprietary: false, embargoHours: 0 }, dr1: { release: 'dp0.2', prompt: false, proprietary: false, embargoHours: 0 } });
    const drift = await reevaluateDrift({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() }, releases: mapping, policyDigest: s.policy.source.digest, policyRef: policyRef(s.policy) });
    expect(drift.releases).toBeGreaterThanOrEqual(1);
    const c = await s.db.selectFrom('collections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(c).toMatchObject({ data_release: 'dp0.2', release_source: 'mapping', release_proprietary: false });
    const audit = await s.db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', id).where('action', '=', 'release_remapped').execute();
    expect(audit).toEqual([{ actor: 'system:releases', action: 'release_remapped' }]);
    expect(await queuedEvaluations(id)).toBeGreaterThan(0);
    await applyPolicy(s.review, id);
    expect((await images(id)).map((i) => i.verdict)).toEqual(['pending_review', 'pending_review', 'pending_review']);
    // A collection whose release the new mapping derives the same is left alone.
    expect((await images(untouched)).map((i) => i.verdict)).toEqual(pending);
    expect(await s.db.selectFrom('audit_log').select('id').where('collection_id', '=', untouched).where('action', '=', 'policy_reopened').execute()).toEqual([]);
    // Put back, for the other tests.
    await reevaluateDrift({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() }, releases: s.releases, policyDigest: s.policy.source.digest, policyRef: policyRef(s.policy) });
    await applyPolicy(s.review, id);
  }, 60_000);
});

describe('a policy file that changes', () => {
  it('images judged by another policy file are judged again by the one in force; reviewer decisions stand', async () => {
    const id = await judged('dr1', 'u/alien/policy-change', 'dr1');
    const [first] = await images(id);
    const text = await readFile(DEFAULT_POLICY_FILE, 'utf8');
    // The next policy: proprietary data without panel approval waits for a reviewer instead of being held.
    const held = '- action: hold\n        reason: "waiting for Data Rights Panel approval: the data is proprietary"';
    expect(text).toContain(held);
    const next = parsePolicy(text.replace(/version: "[^"]+"/, 'version: "test.2"').replace(held, '- action: require_review\n        reason: the data is proprietary'), 'next.yaml');
    expect(next.source.digest).not.toBe(s.policy.source.digest);
    const drift = await reevaluateDrift({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() }, releases: s.releases, policyDigest: next.source.digest, policyRef: policyRef(next) });
    expect(drift.policy).toBeGreaterThanOrEqual(1);
    await applyPolicy({ ...s.review, policy: next }, id);
    const after = await images(id);
    expect(after.map((i) => i.verdict)).toEqual(['pending_review', 'pending_review', 'pending_review']);
    expect(after[0].recheck_reason).toMatch(/the policy changed: now rubin-default@test\.2/);
    const reject = await call('POST', '/api/v1/review/decisions', 'rev', { imageIds: [first.id], action: 'reject', reason: 'a satellite trail' }, reviewer);
    expect(reject.body.results[0]).toMatchObject({ ok: true, state: 'rejected' });
    // Back to the shipped policy: the two the policy decided are judged again, the reviewer's rejection stands.
    await reevaluateDrift({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() }, releases: s.releases, policyDigest: s.policy.source.digest, policyRef: policyRef(s.policy) });
    await applyPolicy(s.review, id);
    const back = await images(id);
    expect(back[0]).toMatchObject({ state: 'rejected', reviewed_by: 'rev' });
    expect(back.slice(1).map((i) => i.verdict)).toEqual(['held', 'held']);
    expect(await history(back[1].id)).toEqual(['policy_held', 'policy_reopened', 'policy_pending_review', 'policy_reopened', 'policy_held']);
  }, 60_000);

  it('images whose rules failed to evaluate get a verdict once a fixed policy is in force', async () => {
    const text = await readFile(DEFAULT_POLICY_FILE, 'utf8');
    const broken = parsePolicy(
      text.replace(/version: "[^"]+"/, 'version: "broken.1"') + '\n  - id: broken\n    description: divides by zero at run time\n    condition: [gt, ["/", [const, 1], ["-", [lookup, cutout.width], [lookup, cutout.width]]], [const, 0]]\n    effects:\n      - action: require_review\n',
      'broken.yaml',
    );
    const id = await judged('dp02', 'u/alien/broken-policy', '', { ...s.review, policy: broken });
    const stuck = await images(id);
    expect(stuck.every((i) => i.verdict === null && /^policy could not be evaluated: .*rule "broken"/.test(i.error ?? ''))).toBe(true);
    await reevaluateDrift({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() }, releases: s.releases, policyDigest: s.policy.source.digest, policyRef: policyRef(s.policy) });
    await applyPolicy(s.review, id);
    expect((await images(id)).map((i) => [i.verdict, i.error])).toEqual(Array(3).fill(['pending_review', null]));
  }, 60_000);
});

describe("the owner's data rights", () => {
  it('follow the identity provider: rights granted later re-judge the images, audited', async () => {
    // Panel approval is in place; the owner registered without dr1 rights, so the images are refused.
    const id = await judged('dr1', 'u/alien/rights-later', '');
    await call('POST', `/api/v1/collections/${id}/panel-approval`, 'boss', { panelApproval: 'approved', reason: 'DRP minutes' }, admin);
    await applyPolicy(s.review, id);
    const before = await images(id);
    expect(before.every((i) => i.verdict === 'rejected' && i.verdict_reasons.some((r) => /data rights/.test(r)))).toBe(true);

    expect(await refreshOwnerRights({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() } }, 'alien', ['dr1'])).toContain(id);
    const c = await s.db.selectFrom('collections').select('owner_data_rights').where('id', '=', id).executeTakeFirstOrThrow();
    expect(c.owner_data_rights).toEqual(['dr1']);
    const audit = await s.db.selectFrom('audit_log').select(['actor', 'detail']).where('collection_id', '=', id).where('action', '=', 'owner_data_rights').execute();
    expect(audit).toEqual([{ actor: 'identity:alien', detail: { from: [], to: ['dr1'] } }]);
    await applyPolicy(s.review, id);
    expect((await images(id)).map((i) => i.verdict)).toEqual(['pending_review', 'pending_review', 'pending_review']);
    // The same rights again change nothing.
    expect(await refreshOwnerRights({ repos: s.repos, queues: s.queues, clock: { now: () => new Date() } }, 'alien', ['dr1'])).not.toContain(id);
  }, 60_000);
});
