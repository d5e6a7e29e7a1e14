import { describe, expect, it } from 'vitest';

import { uploadBatch } from '../../src/domain/upload.js';
import type { UploadDeps } from '../../src/domain/upload-config.js';
import { BlockedError } from '../../src/domain/upload-outcomes.js';
import { uploadProgress } from '../../src/domain/upload-progress.js';
import { retractBatch } from '../../src/domain/retraction.js';
import { UpstreamError, UpstreamRefusedError } from '../../src/domain/errors.js';
import type { PanoptesClient } from '../../src/domain/ports/panoptes-client.js';
import { DB_KINDS } from '../support/databases.js';
import { faultMix, panoptesClient, quietLog, seedUploadBatch, troubledCreates, withStaleMe } from '../support/upload-fixtures.js';
import { uploadSetting } from '../support/upload-setting.js';

for (const kind of DB_KINDS) {
  describe(`upload in api mode (${kind})`, () => {
    const env = uploadSetting(kind);

    function deps(panoptes: PanoptesClient = panoptesClient(env.server.url)): UploadDeps {
      return { repos: env.repos, lock: env.lock, panoptes, store: env.pub.store, log: quietLog, tuning: { settleMs: 20, flushAfterMs: 100 } };
    }

    async function ledger(batchId: string) {
      return env.t.db.selectFrom('upload_items').selectAll().where('upload_batch_id', '=', batchId).execute();
    }

    async function events(collectionId: string) {
      return env.t.db.selectFrom('events').select(['kind', 'payload']).where('collection_id', '=', collectionId).orderBy('id').execute();
    }

    it('uploads 2,000 subjects through 10% faults exactly once: all in the set, all linked, none duplicated', { timeout: 240_000 }, async () => {
      // Tokens also die on their own every 700 requests.
      await env.restart({ tokenMaxUses: 700 });
      env.server.faults.push(...faultMix(0.1, 7));
      // The project already holds a large set of someone else's: reconciling must not have to read it.
      const other = env.server.seedSubjectSet({ displayName: 'earlier campaign' });
      env.server.seedSubjects(other.id, 5000);
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 2000 });
      const t0 = performance.now();
      const report = await uploadBatch(deps(), b.batchId);
      const ms = performance.now() - t0;

      expect(report).toMatchObject({ state: 'uploaded', total: 2000, pending: 0, created: 2000, linked: 2000, failed: 0, duplicates: [] });
      const setId = report.subjectSetId!;
      const ours = new Set(b.externalIds);
      const live = env.server.allSubjects({ includeDeleted: false }).filter((s) => s.externalId !== null && ours.has(s.externalId));
      expect(live).toHaveLength(2000);
      expect(env.server.duplicateExternalIds()).toEqual([]);
      expect(env.server.setMembers(setId)).toHaveLength(2000);
      expect(new Set(env.server.setMembers(setId))).toEqual(new Set(live.map((s) => s.id)));

      // The ledger names the very subjects Zooniverse holds.
      const byExternal = new Map(live.map((s) => [s.externalId!, s.id]));
      for (const row of await ledger(b.batchId)) {
        expect(row.state).toBe('linked');
        expect(row.subject_id).toBe(byExternal.get(row.external_id));
      }

      // Created already in the set (so a lost answer shows up in the set's listing), then the
      // membership confirmed in link requests of at most 100.
      const creates = env.server.requestsTo('createSubject');
      for (const r of creates) expect(JSON.parse(r.body).subjects.links.subject_sets).toEqual([setId]);
      for (const r of env.server.requestsTo('linkSubjects')) expect(JSON.parse(r.body).subjects.length).toBeLessThanOrEqual(100);
      // Reconciling listed our set only: never the project, never the 5,000 subjects of the other set.
      const subjectListings = env.server.requestsTo('listSubjects');
      expect(report.run.listings).toBeGreaterThan(0);
      for (const r of subjectListings) expect(r.query.get('subject_set_id')).toBe(setId);
      expect(report.run.scanned).toBeLessThanOrEqual(report.run.listings * 2000);

      // Fault share: create requests answered by an injected fault or refused because the token died under them.
      const troubled = troubledCreates(env.server.requests);
      const faultShare = troubled / creates.length;
      const perSubject = creates.length / 2000;
      console.log(
        `[upload 2,000 / ${kind}] ${ms.toFixed(0)} ms; create requests ${creates.length} = ${perSubject.toFixed(3)} per subject; ${troubled} of them (${(faultShare * 100).toFixed(1)}%) met a fault or a dead token; ` +
          `ambiguous ${report.run.ambiguous}, rounds ${report.run.rounds}, reconciling listings ${report.run.listings} reading ${report.run.scanned} subjects, adopted ${report.run.adopted}; ` +
          `link requests ${env.server.requestsTo('linkSubjects').length}; tokens issued ${env.server.tokensIssued}`,
      );
      expect(perSubject).toBeLessThanOrEqual(1.05 + faultShare);
      // Every commit-then-fail create was found again rather than sent twice.
      expect(report.run.adopted).toBeGreaterThan(0);
      expect(env.server.tokensIssued).toBeGreaterThan(2);

      expect((await events(b.collectionId)).map((e) => e.kind)).toEqual(['batch_uploaded']);
      const images = await env.t.db.selectFrom('images').select('state').where('id', 'in', b.imageIds).execute();
      expect(images.every((i) => i.state === 'uploaded')).toBe(true);

      // Done is done: running it again sends nothing.
      const before = env.server.requests.length;
      expect((await uploadBatch(deps(), b.batchId)).state).toBe('uploaded');
      expect(env.server.requests.length).toBe(before);
    });

    it('stops before uploading when the subject limit would be passed, with a status the PI can act on', async () => {
      await env.restart({ user: { subjectLimit: 100, uploadedSubjectsCount: 90, login: 'rubin-epo-bridge' } });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 20 });
      const err = await uploadBatch(deps(), b.batchId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlockedError);
      expect((err as Error).message).toBe('Zooniverse user rubin-epo-bridge has uploaded 90 of 100 subjects; this batch needs 20 more: ask Zooniverse to raise the limit');
      expect(env.server.requestsTo('createSubject')).toHaveLength(0);
      expect(env.server.requestsTo('createSubjectSet')).toHaveLength(0);
      const p = await uploadProgress(env.repos, b.batchId);
      expect(p).toMatchObject({ state: 'blocked', pending: 20, created: 0, error: (err as Error).message });
      const ev = await events(b.collectionId);
      expect(ev.map((e) => e.kind)).toEqual(['batch_blocked']);
      expect(ev[0].payload).toMatchObject({ login: 'rubin-epo-bridge', uploaded: 90, limit: 100, needed: 20 });

      // Blocked again: no second event. Then Zooniverse raises the limit and it goes through.
      await expect(uploadBatch(deps(), b.batchId)).rejects.toBeInstanceOf(BlockedError);
      expect((await events(b.collectionId)).map((e) => e.kind)).toEqual(['batch_blocked']);
      env.server.user.subjectLimit = 10_000;
      expect((await uploadBatch(deps(), b.batchId)).state).toBe('uploaded');
      expect(env.server.setMembers((await uploadProgress(env.repos, b.batchId)).subjectSetId!)).toHaveLength(20);
    });

    it('meets the limit mid-run when /me is stale, blocks with the ledger intact, and finishes once raised', async () => {
      await env.restart({ user: { subjectLimit: 15, uploadedSubjectsCount: 0 } });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 40 });
      // Panoptes caches uploaded_subjects_count: /me says 0 while the account is nearly full.
      env.server.user.uploadedSubjectsCount = 5;
      const stale = withStaleMe(panoptesClient(env.server.url), { uploadedSubjectsCount: 0, subjectLimit: 100 });
      const err = await uploadBatch(deps(stale), b.batchId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlockedError);
      expect((err as Error).message).toMatch(/has uploaded 15 of 15 subjects; this batch needs 30 more/);
      const p = await uploadProgress(env.repos, b.batchId);
      expect(p).toMatchObject({ state: 'blocked', created: 10, pending: 30 });

      env.server.user.subjectLimit = 1000;
      const done = await uploadBatch(deps(), b.batchId);
      expect(done).toMatchObject({ state: 'uploaded', linked: 40 });
      expect(env.server.duplicateExternalIds()).toEqual([]);
      expect(env.server.setMembers(done.subjectSetId!)).toHaveLength(40);
    });

    it('creates its subject set once even when the create answers 504 after committing, and shares it per collection', async () => {
      env.server.faults.push({ route: 'createSubjectSet', kind: 'commit-then-504' });
      const b1 = await seedUploadBatch(env.t.db, env.pub.store, { n: 5, subjectSetPer: 'collection', collectionName: 'shared-set' });
      const r1 = await uploadBatch(deps(), b1.batchId);
      expect(env.server.requestsTo('createSubjectSet')).toHaveLength(1);
      const b2 = await seedUploadBatch(env.t.db, env.pub.store, { n: 5, collectionId: b1.collectionId, seq: 2 });
      const r2 = await uploadBatch(deps(), b2.batchId);
      expect(r2.subjectSetId).toBe(r1.subjectSetId);
      expect(env.server.requestsTo('createSubjectSet')).toHaveLength(1);
      expect(env.server.subjectSet(r1.subjectSetId!)?.displayName).toBe('shared-set');
      expect(env.server.setMembers(r1.subjectSetId!)).toHaveLength(10);
    });

    it('names per-batch sets after the collection and batch, and finds its own set again by name after losing its id', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 3, collectionName: 'named', seq: 4 });
      // A set with the same name made by someone else is not ours.
      const foreign = env.server.seedSubjectSet({ displayName: 'named batch 4' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r.state).toBe('uploaded');
      expect(r.subjectSetId).not.toBe(foreign.id);
      const set = env.server.subjectSet(r.subjectSetId!)!;
      expect(set.displayName).toBe('named batch 4');
      expect(set.metadata).toMatchObject({ '#bridge_upload_batch': b.batchId });
      expect(set.members.size).toBe(3);
      expect(foreign.members.size).toBe(0);

      // The set id lost (as by a crash between creating the set and recording it): found again, not made twice.
      await env.t.db.updateTable('upload_batches').set({ subject_set_id: null, state: 'verifying' }).where('id', '=', b.batchId).execute();
      expect((await uploadBatch(deps(), b.batchId)).subjectSetId).toBe(r.subjectSetId);
      expect(env.server.requestsTo('createSubjectSet')).toHaveLength(1);
    });

    it('reports a subject duplicated in the set by someone else, and links back one that was unlinked', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 12 });
      const r = await uploadBatch(deps(), b.batchId);
      const c = panoptesClient(env.server.url);
      // Someone uploads one of our images again into our set (a re-run CLI manifest, say) and unlinks another.
      const [dupOf, unlinked] = (await ledger(b.batchId)).sort((x, y) => x.external_id.localeCompare(y.external_id));
      const extra = await c.createSubject({ projectId: '1', subjectSetIds: [r.subjectSetId!], locations: [{ 'image/png': 'https://bucket.example/x.png' }], metadata: {}, externalId: dupOf.external_id });
      await c.unlinkSubjects(r.subjectSetId!, [unlinked.subject_id!]);
      await env.t.db.updateTable('upload_batches').set({ state: 'verifying' }).where('id', '=', b.batchId).execute();
      const again = await uploadBatch(deps(), b.batchId);
      expect(again.state).toBe('uploaded');
      expect(again.duplicates).toEqual([{ externalId: dupOf.external_id, subjectIds: [dupOf.subject_id, extra.id] }]);
      expect(env.server.setMembers(r.subjectSetId!)).toContain(unlinked.subject_id);
      expect(env.server.setMembers(r.subjectSetId!)).toHaveLength(13);
      expect(env.server.requestsTo('createSubject')).toHaveLength(13);
    });

    it('stops soon when Panoptes is switched off, leaves the batch to be retried, and resumes cleanly', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 200 });
      env.server.uploadingDisabled = true;
      const err = await uploadBatch(deps(), b.batchId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).not.toBeInstanceOf(UpstreamRefusedError);
      expect((err as Error).message).toMatch(/^Panoptes is failing: the last \d+ subject creates all failed/);
      // A few pool-fulls of creates (each retried by the client on 503), not the whole batch.
      expect(env.server.requestsTo('createSubject').length).toBeLessThanOrEqual(5 * (32 + 8));
      const p = await uploadProgress(env.repos, b.batchId);
      expect(p.state).toBe('uploading');
      expect(p.error).toMatch(/^retrying: Panoptes is failing/);

      env.server.uploadingDisabled = false;
      expect(await uploadBatch(deps(), b.batchId)).toMatchObject({ state: 'uploaded', linked: 200, error: null });
      expect(env.server.duplicateExternalIds()).toEqual([]);
    });

    it('fails only the subjects Panoptes refuses, links the rest, and says which', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 10, badLocation: (i) => (i === 3 ? { 'image/bmp': 'https://bucket.example/x.bmp' } : undefined) });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'failed', linked: 9, failed: 1 });
      expect(r.error).toMatch(/^1 of 10 subjects could not be uploaded: 1 × .*image\/bmp.* \(e\.g\. [0-9a-f-]{36}\)$/);
      expect(env.server.setMembers(r.subjectSetId!)).toHaveLength(9);
      expect((await events(b.collectionId)).map((e) => e.kind)).toEqual(['batch_failed']);
    });

    it('retracts a batch: subjects unlinked and deleted, ledger and batch retracted, audited, image ids returned', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 30 });
      const up = await uploadBatch(deps(), b.batchId);
      const setId = up.subjectSetId!;
      // One create whose answer was lost: the ledger does not know its subject, Zooniverse has it.
      const lost = (await ledger(b.batchId))[0];
      await env.t.db.updateTable('upload_items').set({ state: 'intent', subject_id: null, attempts: 1 }).where('id', '=', lost.id).execute();
      const r = await retractBatch(deps(), b.batchId, 'pi@example.org');
      expect(r.subjectsDeleted).toBe(30);
      expect(r.subjectsKept).toBe(0);
      expect(new Set(r.imageIds)).toEqual(new Set(b.imageIds));
      expect(env.server.setMembers(setId)).toHaveLength(0);
      const ours = new Set(b.externalIds);
      expect(env.server.allSubjects({ includeDeleted: false }).filter((s) => ours.has(s.externalId ?? ''))).toHaveLength(0);
      expect((await ledger(b.batchId)).every((i) => i.state === 'retracted')).toBe(true);
      expect((await uploadProgress(env.repos, b.batchId)).state).toBe('retracted');
      expect((await events(b.collectionId)).map((e) => e.kind)).toEqual(['batch_uploaded', 'batch_retracted']);
      const audit = await env.t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', b.batchId).execute();
      expect(audit).toMatchObject([{ actor: 'pi@example.org', action: 'batch_retracted', entity: 'batch' }]);
      // Again: nothing left to do, nothing logged twice; the same images named.
      const again = await retractBatch(deps(), b.batchId, 'pi@example.org');
      expect(again).toMatchObject({ subjectsDeleted: 0, subjectsKept: 0 });
      expect(new Set(again.imageIds)).toEqual(new Set(b.imageIds));
      expect((await events(b.collectionId)).map((e) => e.kind)).toEqual(['batch_uploaded', 'batch_retracted']);
      await expect(uploadBatch(deps(), b.batchId)).rejects.toThrow(/retracted/);
    });
  });
}
