import { describe, expect, it } from 'vitest';
import { Migrator, NO_MIGRATIONS } from 'kysely';
import { migrations } from '../../src/db/migrations/index.js';
import { DB_KINDS, freshDatabase } from '../support/databases.js';

/** Every migration can be taken back and applied again, so an operator can roll a release back. */
for (const kind of DB_KINDS) {
  describe(`migrations on ${kind}`, () => {
    it('go all the way down and up again, in order', async () => {
      const t = await freshDatabase(kind);
      try {
        const m = new Migrator({ db: t.db, provider: { getMigrations: async () => migrations } });
        const names = Object.keys(migrations);
        expect(names).toEqual([...names].sort());
        const down = await m.migrateTo(NO_MIGRATIONS);
        expect(down.error).toBeUndefined();
        expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([...names].reverse().map((n) => [n, 'Down', 'Success']));
        const tables = async () => (await t.db.introspection.getTables()).map((x) => x.name).filter((n) => !n.startsWith('kysely_'));
        expect(await tables()).toEqual([]);
        const up = await m.migrateToLatest();
        expect(up.error).toBeUndefined();
        expect(up.results?.map((r) => r.status)).toEqual(names.map(() => 'Success'));
        expect(await tables()).toEqual(expect.arrayContaining(['collections', 'images', 'image_frames', 'upload_batches', 'upload_items', 'audit_log']));
      } finally {
        await t.close();
      }
    }, 60_000);
  });
}
