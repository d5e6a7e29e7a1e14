import { describe, expect, it } from 'vitest';

import { releaseProgress, stalledReleases, uploadCollection, type ReleaseDeps } from '../../src/domain/release.js';
import { isSetComplete } from '../../src/domain/pacing.js';
import { DB_KINDS } from '../support/databases.js';
import { panoptesClient, quietLog, seedUploadBatch } from '../support/upload-fixtures.js';
import { uploadSetting } from '../support/upload-setting.js';

/** One incomplete subject set at a time: batch 2 waits until volunteers finish batch 1's set. */
for (const kind of DB_KINDS) {
  describe(`paced uploads (${kind})`, () => {
    const env = uploadSetting(kind);

    const deps = (): ReleaseDeps => ({ repos: env.repos, lock: env.lock, store: env.pub.store, log: quietLog, panoptes: panoptesClient(env.server.url) });
    const batches = (collectionId: string) => env.t.db.selectFrom('upload_batches').selectAll().where('collection_id', '=', collectionId).orderBy('seq').execute();
    const events = (collectionId: string, kind: string) => env.t.db.selectFrom('events').select('payload').where('collection_id', '=', collectionId).where('kind', '=', kind).execute();

    async function twoBatches(o: { subjectSetPer?: 'batch' | 'collection' } = {}) {
      const b1 = await seedUploadBatch(env.t.db, env.pub.store, { n: 5, seq: 1, subjectSetPer: o.subjectSetPer });
      const b2 = await seedUploadBatch(env.t.db, env.pub.store, { n: 4, seq: 2, collectionId: b1.collectionId });
      return { collectionId: b1.collectionId, b1, b2 };
    }

    it('holds the next batch until the previous set is complete, says why, and then uploads it', async () => {
      const { collectionId } = await twoBatches();
      await env.t.db.updateTable('collections').set({ one_incomplete_set: true }).where('id', '=', collectionId).execute();

      // Batch 1 has no earlier set to wait for; batch 2 waits for batch 1's, which is in no workflow yet.
      expect(await uploadCollection(deps(), collectionId)).toMatchObject({ uploaded: 1, waiting: expect.stringMatching(/not linked to any workflow yet; the collection uploads one incomplete subject set at a time/) });
      let [one, two] = await batches(collectionId);
      expect(one.state).toBe('uploaded');
      expect(two).toMatchObject({ state: 'waiting', subject_set_id: null });
      expect(two.error).toMatch(new RegExp(`waiting for subject set "[^"]+" \\(${one.subject_set_id}, batch 1\\) to be finished by volunteers`));
      expect(env.server.setMembers(one.subject_set_id!)).toHaveLength(5);
      expect(env.server.allSubjects()).toHaveLength(5);

      // Volunteers are half-way: still waiting, the message follows, the event was sent once.
      env.server.setCompleteness(one.subject_set_id!, '77', 0.5);
      expect((await uploadCollection(deps(), collectionId)).waiting).toMatch(/50% retired in workflow 77/);
      [, two] = await batches(collectionId);
      expect(two.error).toMatch(/50% retired in workflow 77/);
      expect(await events(collectionId, 'batch_waiting')).toHaveLength(1);
      // Waiting is resting: nothing for the bridge to do until volunteers are done.
      expect((await releaseProgress(env.repos, collectionId)).settled).toBe(true);

      // Finished in every workflow it is in: batch 2 goes up, in a set of its own.
      env.server.setCompleteness(one.subject_set_id!, '78', 1);
      expect((await uploadCollection(deps(), collectionId)).waiting).toMatch(/50% retired in workflow 77, 100% retired in workflow 78/);
      env.server.setCompleteness(one.subject_set_id!, '77', 1);
      expect(await uploadCollection(deps(), collectionId)).toEqual({ uploaded: 1 });
      [one, two] = await batches(collectionId);
      expect(two).toMatchObject({ state: 'uploaded', error: null });
      expect(two.subject_set_id).not.toBe(one.subject_set_id);
      expect(env.server.setMembers(two.subject_set_id!)).toHaveLength(4);
      expect(one.set_completed_at).not.toBeNull();
      // A set seen complete is not asked about again.
      const asked = env.server.requestsTo('getSubjectSet').length;
      await uploadCollection(deps(), collectionId);
      expect(env.server.requestsTo('getSubjectSet').length).toBe(asked);
      expect(env.server.duplicateExternalIds()).toEqual([]);
    });

    it('paces a batch when the data-rights policy asked for it on any of its images', async () => {
      const { collectionId, b2 } = await twoBatches();
      await env.t.db.updateTable('images').set({ one_incomplete_set: true, policy_ref: 'rubin-test@3' }).where('id', '=', b2.imageIds[2]).execute();
      const r = await uploadCollection(deps(), collectionId);
      expect(r.waiting).toMatch(/the data-rights policy \(rubin-test@3\) asks for one incomplete subject set at a time/);
      expect((await batches(collectionId)).map((b) => b.state)).toEqual(['uploaded', 'waiting']);
    });

    it('does not pace when nobody asked, or when every batch shares the one set', async () => {
      const free = await twoBatches();
      expect(await uploadCollection(deps(), free.collectionId)).toEqual({ uploaded: 2 });
      const shared = await twoBatches({ subjectSetPer: 'collection' });
      await env.t.db.updateTable('collections').set({ one_incomplete_set: true }).where('id', '=', shared.collectionId).execute();
      expect(await uploadCollection(deps(), shared.collectionId)).toEqual({ uploaded: 2 });
      const [a, b] = await batches(shared.collectionId);
      expect(b.subject_set_id).toBe(a.subject_set_id);
    });

    it('the sweep finds waiting and abandoned batches, but not a long upload whose ledger is moving', async () => {
      const { collectionId, b1, b2 } = await twoBatches();
      const past = new Date(Date.now() - 3_600_000);
      await env.t.db.updateTable('upload_batches').set({ updated_at: past }).where('collection_id', '=', collectionId).execute();
      await env.t.db.updateTable('upload_items').set({ updated_at: past }).where('upload_batch_id', 'in', [b1.batchId, b2.batchId]).execute();
      const cutoff = new Date(Date.now() - 60_000);
      const first = await stalledReleases(env.repos, cutoff);
      const mine = first.upload.find((u) => u.collectionId === collectionId);
      expect(mine?.marks).toHaveLength(2);
      // Batch 1's ledger moves (a worker is creating its subjects): only batch 2 is stalled.
      await env.t.db.updateTable('upload_items').set({ updated_at: new Date() }).where('upload_batch_id', '=', b1.batchId).execute();
      const second = await stalledReleases(env.repos, cutoff);
      expect(second.upload.find((u) => u.collectionId === collectionId)?.marks).toEqual([expect.stringMatching(/^[0-9a-f-]{36}@/)]);
      expect(second.upload.find((u) => u.collectionId === collectionId)?.marks[0]).not.toMatch(new RegExp(`^${b1.batchId}`));
      // Without a Zooniverse project there is nothing to upload to: not offered at all.
      await env.t.db.updateTable('collections').set({ zooniverse_project_id: null }).where('id', '=', collectionId).execute();
      expect((await stalledReleases(env.repos, cutoff)).upload.find((u) => u.collectionId === collectionId)).toBeUndefined();
    });

    it('a set is complete only when it is in a workflow and fully retired in each', () => {
      expect(isSetComplete({ completeness: {} })).toBe(false);
      expect(isSetComplete({ completeness: { '1': 1, '2': 0.99 } })).toBe(false);
      expect(isSetComplete({ completeness: { '1': 1, '2': 1 } })).toBe(true);
    });
  });
}
