import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';
import { migrateToLatest } from '../../src/db/database.js';

for (const kind of DB_KINDS) {
  describe(`database on ${kind}`, () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await freshDatabase(kind);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('migrates, and migrating again is a no-op', async () => {
      const again = await migrateToLatest(t.db);
      expect(again.results).toEqual([]);
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' order by 1`.execute(t.db);
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['artifacts', 'collections', 'images', 'transitions']));
    });

    it('refuses the same dataset twice in one collection, and keeps jsonb and bigint as values', async () => {
      const c = await t.db
        .insertInto('collections')
        .values({ owner: 'alien', repository: 'dp1', name: 'u/alien/zoo-1', source_kind: 'butler', source_root: null, dataset_type: 'zooniverse_cutout', rgb: JSON.stringify(['i', 'r', 'g']), colour: JSON.stringify({ preset: 'auto' }), zooniverse_project_id: null, subject_set_naming: null, poll_interval_seconds: 900, status: 'active', cursor: null, last_polled_at: null, last_poll_error: null })
        .returningAll()
        .executeTakeFirstOrThrow();
      expect(c.rgb).toEqual(['i', 'r', 'g']);
      const a = { collection_id: c.id, dataset_id: 'd1', dataset_type: 'zooniverse_cutout', run: 'u/alien/zoo-1', data_id: JSON.stringify({ band: 'g', tract: 9813 }), band: 'g', group_key: '{"tract":9813}', cursor: 'c1', path: null, size: 3_000_000_000, sha256: null, object_key: null, state: 'discovered' as const, error: null };
      await t.db.insertInto('artifacts').values(a).execute();
      const inserted = await t.db.insertInto('artifacts').values(a).onConflict((oc) => oc.columns(['collection_id', 'dataset_id']).doNothing()).returning('id').execute();
      expect(inserted).toEqual([]);
      const row = await t.db.selectFrom('artifacts').selectAll().executeTakeFirstOrThrow();
      expect(row.size).toBe(3_000_000_000);
      expect(row.data_id).toEqual({ band: 'g', tract: 9813 });
    });

    it('serialises concurrent transactions without losing updates', async () => {
      const c = await t.db.selectFrom('collections').select('id').executeTakeFirstOrThrow();
      await Promise.all(
        Array.from({ length: 20 }, () =>
          t.db.transaction().execute(async (tx) => {
            const row = await tx.selectFrom('artifacts').select('attempts').where('collection_id', '=', c.id).forUpdate().executeTakeFirstOrThrow();
            await tx.updateTable('artifacts').set({ attempts: row.attempts + 1 }).where('collection_id', '=', c.id).execute();
          }),
        ),
      );
      const row = await t.db.selectFrom('artifacts').select('attempts').executeTakeFirstOrThrow();
      expect(row.attempts).toBe(20);
    });
  });
}
