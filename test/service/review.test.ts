import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { sql } from 'kysely';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createBatch } from '../../src/db/repositories/batches.js';
import { insertImages, type NewImage } from '../../src/db/repositories/images.js';
import { applyPolicy, decide, type ReviewDeps } from '../../src/domain/review.js';
import { publishImage, PublishNotDueError } from '../../src/domain/publish.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import { loadPolicyFile, parsePolicy } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { createLogger } from '../../src/app/logger.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';
import { createRepositories } from '../../src/db/repositories/index.js';

/**
 * The review step on a real database: the shipped Rubin policy gives each
 * new image its verdict, reviewers decide, and everything is audited.
 */
const REVIEWER = { username: 'rev', roles: ['pi', 'reviewer'] };

function image(collectionId: string, batchId: string, i: number): NewImage {
  return { collectionId, groupKey: '{"patch":1,"tract":1}', stampIndex: i, state: 'quarantined', ra: 150, dec: 2, wcsQuality: 'full', width: 64, height: 64, bytes: 100, sha256: `${i}`.padStart(64, '0'), quarantineKey: `images/x/${i}.png`, bands: ['i', 'r', 'g'], colour: { preset: 'auto' }, error: null, batchId };
}

for (const kind of DB_KINDS) {
  describe(`review on ${kind}`, () => {
    let t: TestDb;
    let d: ReviewDeps;
    beforeAll(async () => {
      t = await freshDatabase(kind);
      d = { repos: createRepositories(t.db), policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => new Date() }, log: createLogger('silent') };
    });
    afterAll(async () => {
      await t?.close();
    });

    async function collection(name: string, o: { release: string; rights?: string[]; panel?: boolean }) {
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: `u/alien/${name}`, sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, o.release), ownerDataRights: o.rights ?? [] }, 'alien');
      if (o.panel) await t.db.updateTable('collections').set({ panel_approval: 'approved' }).where('id', '=', c.id).execute();
      return c;
    }

    async function images(collectionId: string, n: number, from = 0) {
      const b = await createBatch(t.db, collectionId);
      return insertImages(t.db, Array.from({ length: n }, (_, i) => image(collectionId, b.id, from + i)), 'converter');
    }

    it('proprietary data without panel approval is held in quarantine, with the policy version and reason on record', async () => {
      const c = await collection('proprietary', { release: 'dr1', rights: ['dr1'] });
      await images(c.id, 3);
      expect(await applyPolicy(d, c.id)).toEqual({ rejected: 0, held: 3, auto_approved: 0, pending_review: 0, errors: 0, autoApprovedIds: [] });
      const ref = `rubin-default@${d.policy.version}`;
      const rows = await t.db.selectFrom('images').selectAll().where('collection_id', '=', c.id).execute();
      expect(rows.every((r) => r.state === 'quarantined' && r.verdict === 'held' && r.policy_ref === ref)).toBe(true);
      expect(rows[0].verdict_reasons).toEqual(['waiting for Data Rights Panel approval: the data is proprietary']);
      expect(rows[0].policy_digest).toMatch(/^[0-9a-f]{64}$/);
      const audit = await t.db.selectFrom('audit_log').selectAll().where('collection_id', '=', c.id).execute();
      expect(audit).toHaveLength(3);
      expect(audit[0]).toMatchObject({ actor: `policy:${ref}`, action: 'policy_held', policy_ref: ref });
    });

    it('proprietary data the owner holds no rights for is rejected, naming the hold it would meet too', async () => {
      const c = await collection('no-rights', { release: 'dr1', rights: [] });
      await images(c.id, 2);
      expect(await applyPolicy(d, c.id)).toMatchObject({ rejected: 2, held: 0 });
      const rows = await t.db.selectFrom('images').selectAll().where('collection_id', '=', c.id).execute();
      expect(rows.every((r) => r.state === 'rejected' && r.verdict === 'rejected')).toBe(true);
      expect(rows[0].verdict_reasons).toEqual(["the collection's owner holds no data rights for this data release", 'waiting for Data Rights Panel approval: the data is proprietary']);
    });

    it('with panel approval: pending review, coordinates kept; a public release without approval: pending, coordinates stripped', async () => {
      const approved = await collection('approved', { release: 'dr1', rights: ['dr1'], panel: true });
      await images(approved.id, 2);
      expect((await applyPolicy(d, approved.id)).pending_review).toBe(2);
      const a = await t.db.selectFrom('images').select(['state', 'strip_coordinates']).where('collection_id', '=', approved.id).execute();
      expect(a).toEqual([
        { state: 'quarantined', strip_coordinates: false },
        { state: 'quarantined', strip_coordinates: false },
      ]);
      const open = await collection('public', { release: 'dp0.2' });
      await images(open.id, 2);
      expect((await applyPolicy(d, open.id)).pending_review).toBe(2);
      const o = await t.db.selectFrom('images').select('strip_coordinates').where('collection_id', '=', open.id).execute();
      expect(o.every((r) => r.strip_coordinates)).toBe(true);
    });

    it('the 100-image pre-approval cap counts across batches: the 101st image is rejected naming the cap', async () => {
      const c = await collection('capped', { release: 'dp0.2' });
      await images(c.id, 60);
      expect(await applyPolicy(d, c.id)).toMatchObject({ pending_review: 60, rejected: 0 });
      await images(c.id, 45, 60);
      expect(await applyPolicy(d, c.id)).toMatchObject({ pending_review: 40, rejected: 5 });
      const rejected = await t.db.selectFrom('images').select(['stamp_index', 'verdict_reasons']).where('collection_id', '=', c.id).where('state', '=', 'rejected').orderBy('stamp_index').execute();
      expect(rejected.map((r) => r.stamp_index)).toEqual([100, 101, 102, 103, 104]);
      expect(rejected[0].verdict_reasons[0]).toMatch(/max_per_collection is 100/);
      // Evaluating again changes nothing: verdicts are given once.
      expect(await applyPolicy(d, c.id)).toEqual({ rejected: 0, held: 0, auto_approved: 0, pending_review: 0, errors: 0, autoApprovedIds: [] });
    });

    it('reviewers approve, reject with a reason, and undo; each decision is audited; policy rejections cannot be undone', async () => {
      const c = await collection('decide', { release: 'dp0.2' });
      const imgs = await images(c.id, 4);
      await applyPolicy(d, c.id);
      const [a, b, r, x] = imgs.map((i) => i.id);

      await expect(decide(createRepositories(t.db), REVIEWER, [r], 'reject', '  ')).rejects.toThrow(/reason is required/);
      expect(await decide(createRepositories(t.db), REVIEWER, [a, b], 'approve', null)).toMatchObject([
        { imageId: a, ok: true, state: 'approved' },
        { imageId: b, ok: true, state: 'approved' },
      ]);
      expect(await decide(createRepositories(t.db), REVIEWER, [r], 'reject', 'a satellite trail, not a galaxy')).toEqual([{ imageId: r, ok: true, state: 'rejected' }]);
      // Approving again is refused per image, not for the whole request.
      const again = await decide(createRepositories(t.db), REVIEWER, [a, x], 'approve', null);
      expect(again[0]).toMatchObject({ imageId: a, ok: false });
      expect(again[0].error).toMatch(/is approved, not waiting for review/);
      expect(again[1]).toMatchObject({ imageId: x, ok: true, state: 'approved' });
      expect(await decide(createRepositories(t.db), REVIEWER, [b], 'undo', 'approved by mistake')).toEqual([{ imageId: b, ok: true, state: 'quarantined' }]);

      const audit = await t.db.selectFrom('audit_log').select(['entity_id', 'actor', 'action', 'reason', 'policy_ref']).where('collection_id', '=', c.id).where('actor', '=', 'rev').orderBy('id').execute();
      expect(audit.map((e) => [e.entity_id, e.action, e.reason])).toEqual([
        [a, 'approve', null],
        [b, 'approve', null],
        [r, 'reject', 'a satellite trail, not a galaxy'],
        [x, 'approve', null],
        [b, 'undo', 'approved by mistake'],
      ]);
      expect(audit.every((e) => e.policy_ref === `rubin-default@${d.policy.version}`)).toBe(true);

      const p = await collection('policy-rejected', { release: 'dr1' });
      const [pi] = await images(p.id, 1);
      await applyPolicy(d, p.id);
      const undo = await decide(createRepositories(t.db), REVIEWER, [pi.id], 'undo', null);
      expect(undo[0].error).toMatch(/by the policy, not by a reviewer/);
      const approve = await decide(createRepositories(t.db), REVIEWER, [pi.id], 'approve', null);
      expect(approve[0].ok).toBe(false);
    });

    it('an approval waits out the publishing delay: publishing refuses until it ends, Undo takes it back, only admins publish now', async () => {
      const c = await collection('delay', { release: 'dp0.2' });
      const imgs = await images(c.id, 4);
      await applyPolicy(d, c.id);
      const [a, b, e, f] = imgs.map((i) => i.id);
      const repos = createRepositories(t.db);
      const store = { head: async () => undefined } as unknown as ObjectStore;
      const now = new Date();
      const [ra] = await decide(repos, REVIEWER, [a], 'approve', null, { now, publishDelaySeconds: 600 });
      expect(ra).toMatchObject({ ok: true, state: 'approved', publishAfter: new Date(now.getTime() + 600_000).toISOString() });
      // Publishing before the delay ends is refused with the wait, so the job layer retries it then.
      const early = await publishImage({ repos, store, clock: { now: () => new Date(now.getTime() + 599_000) } }, a).catch((x: unknown) => x);
      expect(early).toBeInstanceOf(PublishNotDueError);
      expect((early as PublishNotDueError).retryAfterMs).toBe(1000);
      expect((early as Error).message).toMatch(/inside its publishing delay until .*Undo still takes the approval back/);
      // Undo within the delay: back to review, the delay forgotten.
      expect(await decide(repos, REVIEWER, [a], 'undo', 'slipped')).toMatchObject([{ ok: true, state: 'quarantined' }]);
      expect((await repos.images.find(a))?.publish_after).toBeNull();
      // Only admins may skip the delay, and say so explicitly.
      await expect(decide(repos, REVIEWER, [b], 'approve', null, { now, publishDelaySeconds: 600, publishNow: true })).rejects.toThrow(/only admins may publish without the publishing delay/);
      const ADMIN = { username: 'chief', roles: ['pi', 'reviewer', 'admin'] };
      const [rb] = await decide(repos, ADMIN, [b], 'approve', null, { now, publishDelaySeconds: 600, publishNow: true });
      expect(rb.publishAfter).toBe(now.toISOString());
      // publish_now ends the delay of an image another reviewer approved, on record.
      await decide(repos, REVIEWER, [e], 'approve', null, { now, publishDelaySeconds: 600 });
      await expect(decide(repos, REVIEWER, [e], 'publish_now', null)).rejects.toThrow(/only admins/);
      const [re] = await decide(repos, ADMIN, [e], 'publish_now', 'the PI asked for it today', { now });
      expect(re).toMatchObject({ ok: true, state: 'approved', publishAfter: now.toISOString() });
      const audit = await t.db.selectFrom('audit_log').select(['action', 'actor', 'reason']).where('entity_id', '=', e).orderBy('id').execute();
      expect(audit.slice(-2)).toEqual([
        { action: 'approve', actor: 'rev', reason: null },
        { action: 'publish_now', actor: 'chief', reason: 'the PI asked for it today' },
      ]);
      // An admin's per-collection delay wins over the deployment's.
      await t.db.updateTable('collections').set({ publish_delay_seconds: 30 }).where('id', '=', c.id).execute();
      const [rf] = await decide(repos, REVIEWER, [f], 'approve', null, { now, publishDelaySeconds: 600 });
      expect(rf.publishAfter).toBe(new Date(now.getTime() + 30_000).toISOString());
    });

    it('nobody decides on their own collection, admins included', async () => {
      const c = await collection('own', { release: 'dp0.2' });
      const [img] = await images(c.id, 1);
      await applyPolicy(d, c.id);
      const res = await decide(createRepositories(t.db), { username: 'alien', roles: ['pi', 'reviewer', 'admin'] }, [img.id], 'approve', null);
      expect(res[0].ok).toBe(false);
      expect(res[0].error).toMatch(/your own collection/);
      await expect(decide(createRepositories(t.db), { username: 'boss', roles: ['pi', 'admin'] }, [img.id], 'approve', null)).rejects.toThrow(/only EPO reviewers/);
    });

    it('a policy configured to auto-approve approves without a reviewer, on record as the policy', async () => {
      const policy = parsePolicy(
        ['name: trusted', 'version: "1"', 'evaluation: first_match', 'rules:', '  - id: panel-approved', '    description: panel-approved collections need no review', "    condition: [eq, [lookup, collection.panel_approval], [const, approved]]", '    effects: [{ action: auto_approve, reason: approved by the panel }]', '  - id: others', '    description: everything else is reviewed', '    condition: [const, true]', '    effects: [{ action: require_review }]'].join('\n'),
        'trusted.yaml',
      );
      const c = await collection('trusted', { release: 'dr1', rights: ['dr1'], panel: true });
      await images(c.id, 2);
      expect(await applyPolicy({ ...d, policy }, c.id)).toMatchObject({ auto_approved: 2 });
      const rows = await t.db.selectFrom('images').select(['state', 'verdict', 'policy_ref']).where('collection_id', '=', c.id).execute();
      expect(rows).toEqual([
        { state: 'approved', verdict: 'auto_approved', policy_ref: 'trusted@1' },
        { state: 'approved', verdict: 'auto_approved', policy_ref: 'trusted@1' },
      ]);
      const tr = await t.db.selectFrom('transitions').select(['actor', 'to_state']).where('entity_id', 'in', (await t.db.selectFrom('images').select('id').where('collection_id', '=', c.id).execute()).map((r) => r.id)).where('to_state', '=', 'approved').execute();
      expect(tr.every((x) => x.actor === 'policy:trusted@1')).toBe(true);
    });

    it('the audit log is append-only in the database itself', async () => {
      await expect(sql`update audit_log set reason = 'rewritten'`.execute(t.db)).rejects.toThrow(/append-only/);
      await expect(sql`delete from audit_log`.execute(t.db)).rejects.toThrow(/append-only/);
    });
  });
}
