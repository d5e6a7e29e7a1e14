import { describe, expect, it } from 'vitest';

import { uploadBatch } from '../../src/domain/upload.js';
import type { UploadDeps } from '../../src/domain/upload-config.js';
import { uploadProgress } from '../../src/domain/upload-progress.js';
import { retractBatch } from '../../src/domain/retraction.js';
import { DB_KINDS } from '../support/databases.js';
import { panoptesClient, quietLog, seedUploadBatch } from '../support/upload-fixtures.js';
import { uploadSetting } from '../support/upload-setting.js';

for (const kind of DB_KINDS) {
  describe(`upload in import mode (${kind})`, () => {
    const env = uploadSetting(kind);

    function deps(): UploadDeps {
      return { repos: env.repos, lock: env.lock, panoptes: panoptesClient(env.server.url), store: env.pub.store, log: quietLog, tuning: { settleMs: 20, importPollMs: 20, importStallPolls: 5 } };
    }

    async function ledger(batchId: string) {
      return env.t.db.selectFrom('upload_items').selectAll().where('upload_batch_id', '=', batchId).orderBy('external_id').execute();
    }

    function liveOf(externalIds: string[]) {
      const ours = new Set(externalIds);
      return env.server.allSubjects({ includeDeleted: false }).filter((s) => ours.has(s.externalId ?? ''));
    }

    it('imports the manifest Panoptes fetches from the public store, fills the ledger, and re-imports without duplicating', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 200, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', linked: 200, failed: 0, duplicates: [] });
      expect(env.server.imports()).toHaveLength(1);
      expect(env.server.imports()[0].sourceUrl).toBe(env.pub.store.publicUrl(b.csvKey));
      expect(r.importId).toBe(env.server.imports()[0].id);
      // No subject was created one by one.
      expect(env.server.requestsTo('createSubject')).toHaveLength(0);
      const live = liveOf(b.externalIds);
      expect(live).toHaveLength(200);
      expect(new Set(env.server.setMembers(r.subjectSetId!))).toEqual(new Set(live.map((s) => s.id)));
      const byExternal = new Map(live.map((s) => [s.externalId!, s.id]));
      const first = await ledger(b.batchId);
      for (const row of first) {
        expect(row.state).toBe('linked');
        expect(row.subject_id).toBe(byExternal.get(row.external_id));
      }
      expect(live[0].metadata).toMatchObject({ '#bridge_image_id': live[0].externalId });

      // The ledger lost (as if restored from an old backup): importing again upserts by external_id.
      await env.t.db.updateTable('upload_batches').set({ state: 'manifested', import_id: null }).where('id', '=', b.batchId).execute();
      await env.t.db.updateTable('upload_items').set({ state: 'intent', subject_id: null, attempts: 0 }).where('upload_batch_id', '=', b.batchId).execute();
      const again = await uploadBatch(deps(), b.batchId);
      expect(again).toMatchObject({ state: 'uploaded', linked: 200 });
      expect(env.server.imports()).toHaveLength(2);
      expect(liveOf(b.externalIds)).toHaveLength(200);
      expect(env.server.duplicateExternalIds()).toEqual([]);
      expect(env.server.setMembers(r.subjectSetId!)).toHaveLength(200);
      expect((await ledger(b.batchId)).map((x) => x.subject_id)).toEqual(first.map((x) => x.subject_id));
    });

    for (const [route, status] of [
      ['listImports', 404],
      ['createImport', 404],
      ['createImport', 405],
    ] as const) {
      it(`goes on subject by subject, on the record, where the import endpoints are missing (${route} answers ${status})`, async () => {
        env.server.faults.push({ route, kind: 'status', status, message: 'Not Found', times: 1 });
        const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 12, mode: 'import' });
        const r = await uploadBatch(deps(), b.batchId);
        expect(r).toMatchObject({ state: 'uploaded', mode: 'api', linked: 12, failed: 0, duplicates: [] });
        expect(env.server.imports()).toHaveLength(0);
        expect(liveOf(b.externalIds)).toHaveLength(12);
        const audit = await env.t.db.selectFrom('audit_log').select(['action', 'reason', 'detail']).where('entity_id', '=', b.batchId).execute();
        expect(audit).toEqual([expect.objectContaining({ action: 'upload_mode_fallback', detail: { from: 'import', to: 'api', status } })]);
        expect(audit[0].reason).toMatch(/import mode is not available: Panoptes .* answered HTTP \d+/);
      });
    }

    it('an answer it cannot use fails the batch once, with the reason for the PI, instead of retrying without end', async () => {
      env.server.faults.push({ route: 'createSubjectSet', kind: 'replace-body', body: { subject_sets: [{ id: '999' }] } });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 3, mode: 'import' });
      await expect(uploadBatch(deps(), b.batchId)).rejects.toThrow(/cannot read/);
      const batch = await env.t.db.selectFrom('upload_batches').select(['state', 'error']).where('id', '=', b.batchId).executeTakeFirstOrThrow();
      expect(batch.state).toBe('failed');
      expect(batch.error).toMatch(/sent a subject_sets resource this client cannot read: .*display_name/s);
      const events = (await env.t.db.selectFrom('events').select(['kind', 'payload']).where('kind', '=', 'batch_failed').execute()).filter((e) => (e.payload as { uploadBatchId?: string }).uploadBatchId === b.batchId);
      expect(events).toHaveLength(1);
    });

    it('goes on subject by subject where Zooniverse does not allow the import (here: a lower row limit)', async () => {
      await env.restart({ importRowLimit: 20 });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 30, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', mode: 'api', linked: 30, failed: 0, duplicates: [] });
      // One refused import, nothing imported; every subject created once and in the set.
      expect(env.server.requestsTo('createImport').map((q) => q.status)).toEqual([403]);
      expect(env.server.imports()).toHaveLength(0);
      expect(env.server.requestsTo('createSubject')).toHaveLength(30);
      expect(liveOf(b.externalIds)).toHaveLength(30);
      expect(env.server.setMembers(r.subjectSetId!)).toHaveLength(30);
      expect((await env.t.db.selectFrom('upload_batches').select('mode').where('id', '=', b.batchId).executeTakeFirstOrThrow()).mode).toBe('api');
    });

    it('does not start a second import when the first answered 504 after it was created', async () => {
      env.server.faults.push({ route: 'createImport', kind: 'commit-then-504' });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 50, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', linked: 50 });
      expect(env.server.requestsTo('createImport')).toHaveLength(1);
      expect(env.server.imports()).toHaveLength(1);
      expect(r.importId).toBe(env.server.imports()[0].id);
    });

    it('finds an import whose id a crash lost, instead of importing again', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 40, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      // As if the process died after the POST, before recording the import and its outcome.
      await env.t.db.updateTable('upload_batches').set({ state: 'uploading', import_id: null }).where('id', '=', b.batchId).execute();
      await env.t.db.updateTable('upload_items').set({ state: 'intent', subject_id: null }).where('upload_batch_id', '=', b.batchId).execute();
      const again = await uploadBatch(deps(), b.batchId);
      expect(again).toMatchObject({ state: 'uploaded', linked: 40, importId: r.importId });
      expect(env.server.imports()).toHaveLength(1);
    });

    it('notices a stalled import, keeps what it imported, and imports the rest again', async () => {
      env.server.faults.push({ route: 'importWorker', kind: 'abort-import', afterRows: 30 });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 200, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', linked: 200 });
      expect(env.server.imports()).toHaveLength(2);
      expect(liveOf(b.externalIds)).toHaveLength(200);
      expect(env.server.duplicateExternalIds()).toEqual([]);
    });

    it('looks at a new import after a second, then less and less often up to importPollMs, and still calls it stalled only after the whole window', async () => {
      env.server.faults.push({ route: 'importWorker', kind: 'abort-import', afterRows: 30 });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 200, mode: 'import' });
      const slept: number[] = [];
      // The pauses are recorded, not waited (a few real milliseconds let the double work).
      const sleep = async (ms: number) => {
        slept.push(ms);
        await new Promise((r) => setTimeout(r, 5));
      };
      const r = await uploadBatch({ ...deps(), tuning: { settleMs: 20, importPollMs: 5_000, importStallPolls: 3, sleep } }, b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', linked: 200 });
      expect(env.server.imports()).toHaveLength(2);
      const polls = slept.filter((ms) => ms >= 1_000);
      expect(polls.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
      // The stalled import was watched for 15 s of no change (3 x 5 s) before the rest was imported again: 1+2+4+5+5 s.
      const beforeReimport = env.server.requestsTo('getImport').filter((q) => q.path.includes(env.server.imports()[0].id)).length;
      expect(beforeReimport).toBeGreaterThanOrEqual(5);
    });

    it('creates the rows an import failed one by one, naming them on the record, never importing the whole manifest again', async () => {
      env.server.faults.push({ route: 'importWorker', kind: 'fail-rows', afterRows: 10, failRows: 7 });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 60, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'uploaded', linked: 60, failed: 0, duplicates: [] });
      expect(env.server.imports()).toHaveLength(1);
      expect(env.server.requestsTo('createSubject')).toHaveLength(7);
      expect(liveOf(b.externalIds)).toHaveLength(60);
      expect(env.server.duplicateExternalIds()).toEqual([]);
      const named = await env.t.db.selectFrom('audit_log').select(['reason', 'detail']).where('action', '=', 'import_rows_failed').where('entity_id', '=', b.batchId).executeTakeFirstOrThrow();
      expect(named.reason).toMatch(/finished with 7 of 60 rows failed; 7 subject\(s\) not in set \d+ are created one by one instead/);
      expect((named.detail as { imageIds: string[] }).imageIds).toHaveLength(7);
      expect(b.externalIds).toEqual(expect.arrayContaining((named.detail as { imageIds: string[] }).imageIds));
    });

    it('fails the batch with a clear message when imports keep stalling', async () => {
      env.server.faults.push({ route: 'importWorker', kind: 'abort-import', afterRows: 30, times: 2 });
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 100, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      expect(r).toMatchObject({ state: 'failed', linked: 30, failed: 70 });
      expect(r.error).toMatch(/^70 of 100 subjects could not be uploaded: 70 × Zooniverse import \d+ stopped at \d+ of 100 rows; the subject is not in subject set \d+ \(e\.g\. [0-9a-f-]{36}\)$/);
      const ev = await env.t.db.selectFrom('events').select('kind').where('collection_id', '=', b.collectionId).execute();
      expect(ev.map((e) => e.kind)).toEqual(['batch_failed']);

      // Asked again (by the PI, once Zooniverse is healthy): the failed rows get another import.
      const retry = await uploadBatch(deps(), b.batchId);
      expect(retry).toMatchObject({ state: 'uploaded', linked: 100, failed: 0 });
      expect(env.server.duplicateExternalIds()).toEqual([]);
    });

    it('retracts an imported batch', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 25, mode: 'import' });
      const r = await uploadBatch(deps(), b.batchId);
      const out = await retractBatch(deps(), b.batchId, 'admin');
      expect(out.subjectsDeleted).toBe(25);
      expect(env.server.setMembers(r.subjectSetId!)).toHaveLength(0);
      expect(liveOf(b.externalIds)).toHaveLength(0);
      expect((await uploadProgress(env.repos, b.batchId)).state).toBe('retracted');
    });
  });
}
