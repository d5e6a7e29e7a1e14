import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judged as judge, startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * The data release is a fact the system derives, not one the PI states: the
 * same FITS files get the verdict their repository's release gives them,
 * whatever the PI writes in the registration. Over real HTTP, Redis and PGlite.
 */
let d: DevApi;
let s: DevApi['s'];
let call: DevApi['call'];

beforeAll(async () => {
  d = await startDevApi({
    releasesYaml: [
      'dp02: { release: dp0.2, prompt: false, proprietary: false, embargoHours: 0 }',
      'dr1: { release: dr1, prompt: false, proprietary: true, embargoHours: 0 }',
      'prompt: { release: prompt, prompt: true, proprietary: true, embargoHours: 80 }',
      'sims: { release: dp0.3, prompt: false, proprietary: false, embargoHours: 0 }',
    ].join('\n'),
  });
  ({ s, call } = d);
}, 60_000);
afterAll(async () => {
  await d?.close();
});

/** Registers `run` in `repository` over the API (as alien, holding rights for dr1), writes the same demo files, and runs them to their verdicts. */
async function judged(repository: string, run: string, o: { observedAt?: Date; panel?: boolean } = {}) {
  const { id, body } = await judge(d, repository, run, { rights: 'dr1', ...o });
  const images = await s.db.selectFrom('images').select(['verdict', 'verdict_reasons']).where('collection_id', '=', id).execute();
  expect(images).toHaveLength(2);
  return { collection: body as Record<string, any>, images };
}

describe('the data release comes from the system, not the PI', () => {
  it('refuses dataRelease in a registration with a 400 naming it', async () => {
    const r = await call('POST', '/api/v1/collections', 'alien', { repository: 'dr1', collection: 'u/alien/liar', sourceKind: 'prefix', sourceRoot: '.', dataRelease: 'dp0.2' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'validation_failed', field: 'dataRelease' });
    expect(r.body.detail).toMatch(/derived from the repository/);
    expect((await s.db.selectFrom('collections').select('id').where('name', '=', 'u/alien/liar').execute())).toEqual([]);
  });

  it('the same files are held as proprietary from dr1 and reviewed from dp02: the derived release decides', async () => {
    const dr1 = await judged('dr1', 'u/alien/from-dr1');
    expect(dr1.collection).toMatchObject({ repository: 'dr1', dataRelease: 'dr1', releaseSource: 'mapping' });
    expect(dr1.images.every((i) => i.verdict === 'held' && i.verdict_reasons.some((r) => /proprietary/.test(r)))).toBe(true);
    const dp02 = await judged('dp02', 'u/alien/from-dp02');
    expect(dp02.collection).toMatchObject({ dataRelease: 'dp0.2', releaseSource: 'mapping' });
    // Nor can the PI change it afterwards.
    const patch = await call('PATCH', `/api/v1/collections/${dr1.collection.id}`, 'alien', { dataRelease: 'dp0.2' });
    expect(patch.status).toBe(400);
    expect((await call('GET', `/api/v1/collections/${dr1.collection.id}`, 'alien')).body.dataRelease).toBe('dr1');
    // Only an admin may override it, with a reason, on the record.
    const override = { release: 'dp0.2', proprietary: false, embargoHours: 0, reason: 'this run holds DP0.2 re-processing only' };
    expect((await call('POST', `/api/v1/collections/${dr1.collection.id}/release`, 'alien', override)).status).toBe(403);
    const set = await call('POST', `/api/v1/collections/${dr1.collection.id}/release`, 'boss', override, { 'x-bridge-dev-roles': 'admin' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ dataRelease: 'dp0.2', releaseSource: 'admin', proprietary: false, embargoHours: 0 });
    const audit = await s.db.selectFrom('audit_log').select(['actor', 'reason']).where('action', '=', 'release_override').where('collection_id', '=', dr1.collection.id).execute();
    expect(audit).toEqual([{ actor: 'boss', reason: override.reason }]);
    expect(dp02.images.every((i) => i.verdict === 'pending_review')).toBe(true);
  }, 60_000);

  it('a repository the mapping does not name is release "unknown", and rejected even with panel approval and an old DATE-OBS', async () => {
    const unknown = await judged('dp0.2-please', 'u/alien/unmapped', { panel: true, observedAt: new Date(Date.now() - 5 * 365 * 24 * 3_600_000) });
    expect(unknown.collection).toMatchObject({ dataRelease: 'unknown', releaseSource: 'unmapped' });
    expect(unknown.images.every((i) => i.verdict === 'rejected' && i.verdict_reasons.some((r) => /no data rights/.test(r)))).toBe(true);
    const fresh = await judged('also-unmapped', 'u/alien/unmapped-no-date');
    expect(fresh.images.every((i) => i.verdict === 'rejected' && i.verdict_reasons.some((r) => /80-hour embargo/.test(r)))).toBe(true);
  }, 60_000);

  it('prompt data without DATE-OBS/MJD-OBS is not let through by the embargo, even with panel approval', async () => {
    const p = await judged('prompt', 'u/alien/prompt-undated', { panel: true });
    expect(p.collection).toMatchObject({ dataRelease: 'prompt', releaseSource: 'mapping' });
    expect(p.images.every((i) => i.verdict === 'rejected' && i.verdict_reasons.some((r) => /80-hour embargo/.test(r)))).toBe(true);
    // The same, dated 100 hours ago, passes the embargo (and waits for review).
    const dated = await judged('prompt', 'u/alien/prompt-dated', { panel: true, observedAt: new Date(Date.now() - 100 * 3_600_000) });
    expect(dated.images.every((i) => i.verdict === 'pending_review')).toBe(true);
  }, 60_000);

  it("the reviewer's listing shows each image's repository, release and its source, dataset type, observation time and matched rules", async () => {
    const observedAt = new Date(Date.now() - 100 * 3_600_000);
    const { collection } = await judged('prompt', 'u/alien/prompt-for-review', { panel: true, observedAt });
    const r = await call('GET', `/api/v1/review/images?collection=${collection.id}`, 'rev', undefined, { 'x-bridge-dev-roles': 'reviewer' });
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(2);
    for (const i of r.body.items) {
      expect(i).toMatchObject({ repository: 'prompt', dataRelease: 'prompt', releaseSource: 'mapping', datasetType: 'zooniverse_cutout' });
      expect(Math.abs(Date.parse(i.observedAt) - observedAt.getTime())).toBeLessThan(1000);
      expect(i.matchedRules.map((m: { id: string }) => m.id)).toContain('epo-review');
    }
  }, 60_000);
});

describe('a Zooniverse project needs an admin-approved binding to its PI', () => {
  const admin = { 'x-bridge-dev-roles': 'admin' };
  it('refuses a project nobody approved for the PI (403 saying how to get it), at registration and in the settings', async () => {
    const reg = await call('POST', '/api/v1/collections', 'alien', { repository: 'dp02', collection: 'u/alien/zoo-foreign', sourceKind: 'prefix', sourceRoot: '.', zooniverseProjectId: '4242' });
    expect(reg.status).toBe(403);
    expect(reg.body.detail).toMatch(/not approved for alien: ask an EPO admin to approve it \(POST \/api\/v1\/project-bindings/);
    const ok = await call('POST', '/api/v1/collections', 'alien', { repository: 'dp02', collection: 'u/alien/zoo-bound', sourceKind: 'prefix', sourceRoot: '.' });
    expect(ok.status).toBe(201);
    const patch = await call('PATCH', `/api/v1/collections/${ok.body.id}`, 'alien', { zooniverseProjectId: '4242' });
    expect(patch.status).toBe(403);
    expect(patch.body.field).toBe('zooniverseProjectId');
    // A PI cannot approve it for themself.
    expect((await call('POST', '/api/v1/project-bindings', 'alien', { username: 'alien', projectId: '4242' })).status).toBe(403);
    // An admin approves it (audited); then the PI may use it, and only that PI.
    const approve = await call('POST', '/api/v1/project-bindings', 'boss', { username: 'alien', projectId: '4242', reason: 'alien runs project 4242' }, admin);
    expect(approve.status).toBe(201);
    expect((await call('PATCH', `/api/v1/collections/${ok.body.id}`, 'alien', { zooniverseProjectId: '4242' })).body.zooniverseProjectId).toBe('4242');
    const bob = await call('POST', '/api/v1/collections', 'bob', { repository: 'dp02', collection: 'u/bob/zoo', sourceKind: 'prefix', sourceRoot: '.', zooniverseProjectId: '4242' });
    expect(bob.status).toBe(403);
    const audit = await s.db.selectFrom('audit_log').select(['actor', 'action', 'detail']).where('action', 'in', ['approve_project_binding', 'revoke_project_binding']).execute();
    expect(audit).toEqual([expect.objectContaining({ actor: 'boss', action: 'approve_project_binding' })]);
    // Revoked: the project cannot be set again.
    expect((await call('DELETE', '/api/v1/project-bindings', 'boss', { username: 'alien', projectId: '4242' }, admin)).status).toBe(204);
    expect((await call('PATCH', `/api/v1/collections/${ok.body.id}`, 'alien', { zooniverseProjectId: null })).status).toBe(200);
    expect((await call('PATCH', `/api/v1/collections/${ok.body.id}`, 'alien', { zooniverseProjectId: '4242' })).status).toBe(403);
  });
});
