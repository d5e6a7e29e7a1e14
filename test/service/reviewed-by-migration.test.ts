import { describe, expect, it } from 'vitest';
import { Migrator } from 'kysely';
import { migrations } from '../../src/db/migrations/index.js';
import { DB_KINDS, freshDatabase } from '../support/databases.js';

/**
 * Images decided before `reviewed_by` existed take their reviewer from the
 * audit log: the latest approve or reject stands, an undo leaves nobody, and
 * the policy's own verdicts leave nobody. Otherwise a changed fact would
 * reopen what a person decided.
 */
for (const kind of DB_KINDS) {
  describe(`reviewed_by backfill on ${kind}`, () => {
    it('records whose decision is in force from the audit log', async () => {
      const t = await freshDatabase(kind);
      try {
        const m = new Migrator({ db: t.db, provider: { getMigrations: async () => migrations } });
        expect((await m.migrateTo('20261204100000_project_bindings')).error).toBeUndefined();
        const c = await t.db
          .insertInto('collections')
          .values({ owner: 'alien', repository: 'dp1', name: 'u/alien/old', source_kind: 'prefix', source_root: '/x', dataset_type: 'zooniverse_cutout', rgb: JSON.stringify(['i', 'r', 'g']), colour: '{}', zooniverse_project_id: null, subject_set_naming: null, poll_interval_seconds: 900, status: 'active', cursor: null, last_polled_at: null, last_poll_error: null })
          .returning('id')
          .executeTakeFirstOrThrow();
        const image = async (stamp: number, state: 'approved' | 'rejected' | 'quarantined') =>
          (await t.db.insertInto('images').values({ collection_id: c.id, group_key: 'g', stamp_index: stamp, state, ra: null, dec: null, wcs_quality: 'none', width: 1, height: 1, bytes: 1, sha256: 'x', quarantine_key: 'k', bands: '[]', colour: '{}', error: null }).returning('id').executeTakeFirstOrThrow()).id;
        const audit = (entityId: string, actor: string, action: string) => t.db.insertInto('audit_log').values({ actor, action, entity: 'image', entity_id: entityId, collection_id: c.id, policy_ref: null, reason: null }).execute();
        const approved = await image(0, 'approved');
        await audit(approved, 'policy:rubin-default@1', 'policy_pending_review');
        await audit(approved, 'rev', 'approve');
        const undone = await image(1, 'quarantined');
        await audit(undone, 'rev', 'approve');
        await audit(undone, 'rev', 'undo');
        const policyRejected = await image(2, 'rejected');
        await audit(policyRejected, 'policy:rubin-default@1', 'policy_rejected');
        const changedMind = await image(3, 'rejected');
        await audit(changedMind, 'rev', 'approve');
        await audit(changedMind, 'rev', 'undo');
        await audit(changedMind, 'ana', 'reject');

        expect((await m.migrateToLatest()).error).toBeUndefined();
        const rows = await t.db.selectFrom('images').select(['id', 'reviewed_by', 'recheck_reason']).execute();
        const by = Object.fromEntries(rows.map((r) => [r.id, r.reviewed_by]));
        expect([by[approved], by[undone], by[policyRejected], by[changedMind]]).toEqual(['rev', null, null, 'ana']);
        expect(rows.every((r) => r.recheck_reason === null)).toBe(true);
      } finally {
        await t.close();
      }
    }, 60_000);
  });
}
