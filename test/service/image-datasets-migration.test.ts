import { describe, expect, it } from 'vitest';
import { Migrator } from 'kysely';
import { migrations } from '../../src/db/migrations/index.js';
import { DB_KINDS, freshDatabase } from '../support/databases.js';

/**
 * Images converted before image_datasets existed get their links from the
 * migration, the way manifests used to find their datasets: the group's
 * band artifacts for FITS, the archive named by `#zip:<id>` for renderings.
 */
for (const kind of DB_KINDS) {
  describe(`image_datasets backfill on ${kind}`, () => {
    it('links older images to the datasets manifests listed for them', async () => {
      const t = await freshDatabase(kind);
      try {
        const m = new Migrator({ db: t.db, provider: { getMigrations: async () => migrations } });
        expect((await m.migrateTo('20261125100000_session_id_token')).error).toBeUndefined();
        const c = await t.db
          .insertInto('collections')
          .values({ owner: 'alien', repository: 'dp1', name: 'u/alien/old', source_kind: 'prefix', source_root: '/x', dataset_type: 'zooniverse_cutout', rgb: JSON.stringify(['i', 'r', 'g']), colour: '{}', zooniverse_project_id: null, subject_set_naming: null, poll_interval_seconds: 900, status: 'active', cursor: null, last_polled_at: null, last_poll_error: null })
          .returning('id')
          .executeTakeFirstOrThrow();
        const group = '{"patch":4,"tract":9813}';
        const artifact = (datasetId: string, band: string | null, objectKey: string | null, groupKey = group) =>
          t.db
            .insertInto('artifacts')
            .values({ collection_id: c.id, dataset_id: datasetId, dataset_type: 'zooniverse_cutout', run: 'run', data_id: '{}', band, group_key: groupKey, cursor: datasetId, path: null, size: null, sha256: null, object_key: objectKey, state: 'converted', error: null })
            .returning('id')
            .executeTakeFirstOrThrow();
        const g = await artifact('ds-g', 'g', 'artifacts/g.fits');
        const i = await artifact('ds-i', 'i', 'artifacts/i.fits');
        const r = await artifact('ds-r', 'r', 'artifacts/r.fits');
        // A band outside the collection's channels: manifests listed it too, after the channels.
        const z = await artifact('ds-z', 'z', 'artifacts/z.fits');
        const zip = await artifact('ds-zip', null, 'artifacts/a.zip', '{"visit":7}');
        await artifact('ds-other', 'g', 'artifacts/o.fits', '{"patch":5,"tract":9813}');
        const image = (groupKey: string, stamp: number, bands: string[]) =>
          t.db
            .insertInto('images')
            .values({ collection_id: c.id, group_key: groupKey, stamp_index: stamp, state: 'quarantined', ra: null, dec: null, wcs_quality: 'none', width: 1, height: 1, bytes: 1, sha256: 'x', quarantine_key: 'k', bands: JSON.stringify(bands), colour: '{}', error: null })
            .returning('id')
            .executeTakeFirstOrThrow();
        const fits = await image(group, 0, ['i', 'r', 'g']);
        const rendered = await image('{"visit":7}#zip:ds-zip', 0, []);

        expect((await m.migrateToLatest()).error).toBeUndefined();
        const links = await t.db.selectFrom('image_datasets').selectAll().orderBy('image_id').orderBy('position').execute();
        expect(links.filter((l) => l.image_id === fits.id).map((l) => [l.position, l.band, l.dataset_id, l.artifact_id])).toEqual([
          [1, 'i', 'ds-i', i.id],
          [2, 'r', 'ds-r', r.id],
          [3, 'g', 'ds-g', g.id],
          [4, 'z', 'ds-z', z.id],
        ]);
        expect(links.filter((l) => l.image_id === rendered.id).map((l) => [l.position, l.band, l.dataset_id, l.artifact_id])).toEqual([[1, null, 'ds-zip', zip.id]]);

        // Down and up again keeps the links (the backfill runs again on the same rows).
        expect((await m.migrateTo('20261125100000_session_id_token')).error).toBeUndefined();
        expect((await m.migrateToLatest()).error).toBeUndefined();
        expect(await t.db.selectFrom('image_datasets').select('dataset_id').execute()).toHaveLength(5);
      } finally {
        await t.close();
      }
    }, 60_000);
  });
}
