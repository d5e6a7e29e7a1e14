import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caesarCredentialsValid, createCaesarSecret, receiveCaesarReduction, removeCaesarSecret } from '../../src/domain/caesar-intake.js';
import { ForbiddenError, ValidationError } from '../../src/domain/errors.js';
import { DB_KINDS } from '../support/databases.js';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { WORKFLOW_ID, subjectIdOf } from '../support/classifications.js';
import { resultsWorld, type ResultsWorld } from './harness.js';

/*
 * Caesar's optional path (issue 14): a project that already runs Caesar
 * points an external_with_basic_auth effect at the bridge. The domain and
 * repository on PGlite and Postgres; the HTTP endpoint, its credentials and
 * the owner's secret through the whole bridge.
 */

const clock = { now: () => new Date() };
const pi = { username: 'pi', roles: ['pi'] };

/** A delivery shaped as Caesar's SubjectReduction#prepare sends it. */
function delivery(subjectId: string, o: { updatedAt?: string; data?: unknown; metadata?: Record<string, unknown>; reducerKey?: string; type?: string } = {}) {
  return {
    id: 9001,
    reducible: { id: Number(WORKFLOW_ID), type: o.type ?? 'Workflow' },
    data: o.data ?? { most_likely: 'yes', num_votes: 4, agreement: 0.8 },
    subject: { id: Number(subjectId), metadata: o.metadata ?? { '#collection': 'whatever', '!ra': 150.1 } },
    reducer_key: o.reducerKey ?? 'consensus',
    created_at: '2026-12-01T10:00:00.000Z',
    updated_at: o.updatedAt ?? '2026-12-01T10:00:00.000Z',
    // Fields the bridge does not know are ignored.
    lock_version: 3,
    expired: false,
  };
}

describe.each(DB_KINDS)('Caesar intake (%s)', (kind) => {
  let w: ResultsWorld;
  beforeAll(async () => {
    w = await resultsWorld(kind, 3);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("keeps a bridge subject's reduction, readable through the repository, and never lets an older update overwrite a newer one", async () => {
    const sid = subjectIdOf(0);
    const first = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(sid, { updatedAt: '2026-12-01T10:00:00Z' }));
    expect(first).toMatchObject({ outcome: 'stored', imageId: w.imageOf.get(sid) });

    const newer = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(sid, { updatedAt: '2026-12-01T12:00:00.000Z', data: { most_likely: 'no', num_votes: 7, agreement: 0.7 } }));
    expect(newer.outcome).toBe('stored');
    // A re-delivered older update (Caesar retried it late) and the same update again change nothing.
    const older = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(sid, { updatedAt: '2026-12-01T11:00:00.000Z', data: { most_likely: 'yes', num_votes: 1, agreement: 1 } }));
    expect(older.outcome).toBe('stale');
    const again = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(sid, { updatedAt: '2026-12-01T12:00:00.000Z', data: { most_likely: 'maybe' } }));
    expect(again.outcome).toBe('stale');

    const rows = await w.repos.caesarReductions.ofSubjects(w.collectionId, [sid]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ workflowId: WORKFLOW_ID, subjectId: sid, reducerKey: 'consensus', imageId: w.imageOf.get(sid), caesarId: '9001', caesarUpdatedAt: '2026-12-01T12:00:00.000Z', data: { most_likely: 'no', num_votes: 7, agreement: 0.7 } });

    // Another reducer of the same subject is a row of its own.
    await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(sid, { reducerKey: 'survey', data: { SPIRAL: 3 } }));
    expect((await w.repos.caesarReductions.ofSubjects(w.collectionId, [sid])).map((r) => r.reducerKey)).toEqual(['consensus', 'survey']);
  });

  it("finds a subject the upload did not record by its #bridge_image_id, and ignores (counts, does not store) subjects that are not the collection's", async () => {
    const imageId = w.imageIds[2];
    const viaMeta = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery('777001', { metadata: { '#bridge_image_id': imageId } }));
    expect(viaMeta).toMatchObject({ outcome: 'stored', imageId });

    const before = (await w.repos.caesarReductions.list(w.collectionId, { limit: 100 })).length;
    const stranger = await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery('888001'));
    expect(stranger.outcome).toBe('ignored');
    expect(stranger.reason).toMatch(/subject 888001 is not one of this collection's subjects/);
    // A #bridge_image_id that is not an image of this collection (or not an id at all) is not ours either.
    expect((await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery('888002', { metadata: { '#bridge_image_id': '00000000-0000-4000-8000-000000000000' } }))).outcome).toBe('ignored');
    expect((await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery('888003', { metadata: { '#bridge_image_id': "x' or 1=1" } }))).outcome).toBe('ignored');
    // Per-user (project) reductions are not subject results.
    expect((await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(subjectIdOf(1), { type: 'Project' }))).outcome).toBe('ignored');
    expect(await w.repos.caesarReductions.list(w.collectionId, { limit: 100 })).toHaveLength(before);
    expect(await w.repos.caesarReductions.ofSubjects(w.collectionId, ['888001', '888002', '888003', subjectIdOf(1)])).toEqual([]);

    // Keyset paging walks every row once.
    const all = await w.repos.caesarReductions.list(w.collectionId, { limit: 100 });
    const paged = [];
    let after;
    for (;;) {
      const page = await w.repos.caesarReductions.list(w.collectionId, { after, limit: 1 });
      if (page.length === 0) break;
      paged.push(...page);
      after = page[0];
    }
    expect(paged).toEqual(all);
  });

  it('names the missing field of a delivery it cannot read', async () => {
    await expect(receiveCaesarReduction(w.repos, clock, w.collectionId, { reducible: { id: '5' }, data: {} })).rejects.toThrow(ValidationError);
    await expect(receiveCaesarReduction(w.repos, clock, w.collectionId, { reducible: { id: '5' }, data: {} })).rejects.toThrow(/subject/);
  });

  it('counts deliveries; a rotated secret replaces the old one; only the owner or an admin makes one; the audit row never holds it', async () => {
    const first = await createCaesarSecret(w.repos, pi, w.collectionId);
    expect(first.rotated).toBe(false);
    expect(await caesarCredentialsValid(w.repos, w.collectionId, w.collectionId, first.secret)).toBe(true);
    expect(await caesarCredentialsValid(w.repos, w.collectionId, 'someone', first.secret)).toBe(false);

    await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery('999001'));
    await receiveCaesarReduction(w.repos, clock, w.collectionId, delivery(subjectIdOf(1)));
    const e = await w.repos.caesarReductions.endpoint(w.collectionId);
    expect(e).toMatchObject({ stored: 1, ignored: 1, createdBy: 'pi' });
    expect(e!.secretHash).not.toContain(first.secret);

    const second = await createCaesarSecret(w.repos, pi, w.collectionId);
    expect(second.rotated).toBe(true);
    expect(second.secret).not.toBe(first.secret);
    expect(await caesarCredentialsValid(w.repos, w.collectionId, w.collectionId, first.secret)).toBe(false);
    expect(await caesarCredentialsValid(w.repos, w.collectionId, w.collectionId, second.secret)).toBe(true);

    await expect(createCaesarSecret(w.repos, { username: 'other', roles: ['pi'] }, w.collectionId)).rejects.toThrow(ForbiddenError);
    await createCaesarSecret(w.repos, { username: 'boss', roles: ['pi', 'admin'] }, w.collectionId);

    const audit = await w.repos.audit.list({ collectionId: w.collectionId, limit: 50 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['caesar_secret_created', 'caesar_secret_rotated']));
    const text = JSON.stringify(audit);
    expect(text).not.toContain(first.secret);
    expect(text).not.toContain(second.secret);

    expect(await removeCaesarSecret(w.repos, pi, w.collectionId)).toBe(true);
    expect(await caesarCredentialsValid(w.repos, w.collectionId, w.collectionId, second.secret)).toBe(false);
    expect(await removeCaesarSecret(w.repos, pi, w.collectionId)).toBe(false);
    // Switching off keeps what arrived.
    expect((await w.repos.caesarReductions.list(w.collectionId, { limit: 100 })).length).toBeGreaterThan(0);
  });
});

describe('Caesar endpoint over HTTP', () => {
  let app: BridgeApp;
  let id: string;
  let imageId: string;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const post = (auth: string | undefined, body: unknown, path = `/api/v1/caesar/collections/${id}/reductions`) =>
    fetch(app.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 1 });
    id = app.collections.alien;
    imageId = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', id).executeTakeFirstOrThrow()).id;
  }, 180_000);
  afterAll(async () => {
    await app?.close();
  });

  it('takes Caesar deliveries only with the collection id and its current secret, which only the owner or an admin can make', async () => {
    const none = await post(undefined, delivery('1', { metadata: { '#bridge_image_id': imageId } }));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);

    expect((await app.call('other', 'POST', `/collections/${id}/results/caesar-secret`)).status).toBe(403);
    expect((await app.call('rev', 'POST', `/collections/${id}/results/caesar-secret`)).status).toBe(403);
    const made = await app.call('alien', 'POST', `/collections/${id}/results/caesar-secret`);
    expect(made.status).toBe(201);
    const secret: string = made.body.secret;
    expect(made.body.url).toBe(`${app.url}/api/v1/caesar/collections/${id}/reductions`);
    expect(made.body.effect).toMatchObject({ action: 'external_with_basic_auth', config: { url: made.body.url, username: id, password: secret } });

    expect((await post(basic(id, 'not-the-secret'), delivery('1'))).status).toBe(401);
    expect((await post(basic('alien', secret), delivery('1'))).status).toBe(401);
    // Another collection's path with this collection's credentials.
    expect((await post(basic(id, secret), delivery('1'), `/api/v1/caesar/collections/${app.collections.rev}/reductions`)).status).toBe(401);
    // A bearer token is not how Caesar authenticates.
    expect((await post(`Bearer ${await app.bearer('alien')}`, delivery('1'))).status).toBe(401);

    const ok = await post(basic(id, secret), delivery('4242', { metadata: { '#bridge_image_id': imageId } }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ stored: true, outcome: 'stored', imageId });
    const kept = await app.s.repos.caesarReductions.ofSubjects(id, ['4242']);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ imageId, reducerKey: 'consensus', data: { most_likely: 'yes' } });

    // Not ours: 200 (Caesar retries anything but 200/201/204), counted, not stored.
    const stranger = await post(basic(id, secret), delivery('5151'));
    expect(stranger.status).toBe(200);
    expect(await stranger.json()).toMatchObject({ stored: false, outcome: 'ignored' });
    expect(await app.s.repos.caesarReductions.ofSubjects(id, ['5151'])).toEqual([]);
    const status = await app.call('alien', 'GET', `/collections/${id}/results/caesar`);
    expect(status.body).toMatchObject({ enabled: true, stored: 1, ignored: 1, username: id });
    expect(status.body).not.toHaveProperty('secret');

    // Unreadable and oversized bodies.
    const bad = await post(basic(id, secret), { data: {} });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/reducible/);
    const huge = await post(basic(id, secret), delivery('4242', { data: { blob: 'x'.repeat(300 * 1024) }, metadata: { '#bridge_image_id': imageId } }));
    expect(huge.status).toBe(413);

    // Rotation: the old secret stops working at once.
    const rotated = await app.call('boss', 'POST', `/collections/${id}/results/caesar-secret`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.rotated).toBe(true);
    expect((await post(basic(id, secret), delivery('4242', { metadata: { '#bridge_image_id': imageId } }))).status).toBe(401);
    expect((await post(basic(id, rotated.body.secret), delivery('4242', { updatedAt: '2026-12-02T00:00:00Z', metadata: { '#bridge_image_id': imageId } }))).status).toBe(200);

    // Neither secret is in the logs or the audit log.
    const logs = app.logs.join('');
    const audit = JSON.stringify(await app.s.db.selectFrom('audit_log').selectAll().where('collection_id', '=', id).execute());
    expect(audit).toMatch(/caesar_secret_rotated/);
    for (const s of [secret, rotated.body.secret]) {
      expect(logs).not.toContain(s);
      expect(audit).not.toContain(s);
    }

    // Both sides are in the API reference.
    const doc = (await app.call('alien', 'GET', '/openapi.json')).body;
    expect(doc.paths['/caesar/collections/{id}/reductions']?.post?.security).toEqual([{ caesarBasic: [] }]);
    expect(doc.paths['/collections/{id}/results/caesar-secret']?.delete).toBeDefined();

    // Switched off: no secret works; the status says so.
    expect((await app.call('alien', 'DELETE', `/collections/${id}/results/caesar-secret`)).status).toBe(204);
    expect((await post(basic(id, rotated.body.secret), delivery('4242', { metadata: { '#bridge_image_id': imageId } }))).status).toBe(401);
    expect((await app.call('alien', 'GET', `/collections/${id}/results/caesar`)).body.enabled).toBe(false);
  }, 60_000);
});
