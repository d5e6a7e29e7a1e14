import { sql } from 'kysely';
import type { UploadBatchesRepository } from '../../domain/ports/upload-batches-repository.js';
import type { Tx } from './transitions.js';

export function uploadBatchesRepository(db: Tx): UploadBatchesRepository {
  return {
    find: (id) => db.selectFrom('upload_batches').selectAll().where('id', '=', id).executeTakeFirst(),

    async lastSeq(collectionId) {
      const r = await db.selectFrom('upload_batches').select(sql<number>`coalesce(max(seq), 0)::int`.as('seq')).where('collection_id', '=', collectionId).executeTakeFirstOrThrow();
      return r.seq;
    },

    async awaitingManifest(collectionId) {
      const rows = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', '=', 'publishing').orderBy('seq').execute();
      return rows.map((r) => r.id);
    },

    async unplannedImages(collectionId) {
      const rows = await db
        .selectFrom('images')
        .select('id')
        .where('collection_id', '=', collectionId)
        .where('state', '=', 'published')
        .where('public_key', 'is not', null)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('upload_items').select('upload_items.id').whereRef('upload_items.image_id', '=', 'images.id'))))
        .orderBy('batch_id')
        .orderBy('group_key')
        .orderBy('stamp_index')
        .orderBy('id')
        .execute();
      return rows.map((r) => r.id);
    },

    async create(b) {
      const batch = await db
        .insertInto('upload_batches')
        .values({ collection_id: b.collectionId, seq: b.seq, mode: b.mode, state: 'publishing', total: b.imageIds.length })
        .returningAll()
        .executeTakeFirstOrThrow();
      // 1,000 rows of 4 parameters per statement keeps well under Postgres' bind limit.
      for (let i = 0; i < b.imageIds.length; i += 1000) {
        await db
          .insertInto('upload_items')
          .values(b.imageIds.slice(i, i + 1000).map((id) => ({ upload_batch_id: batch.id, image_id: id, external_id: id, state: 'intent' as const })))
          .execute();
      }
      return batch;
    },

    async ledger(batchId) {
      const rows = await db
        .selectFrom('upload_items')
        .innerJoin('images', 'images.id', 'upload_items.image_id')
        .selectAll('images')
        .select(['upload_items.external_id', 'upload_items.state as item_state'])
        .where('upload_items.upload_batch_id', '=', batchId)
        .orderBy('images.batch_id')
        .orderBy('images.group_key')
        .orderBy('images.stamp_index')
        .orderBy('images.id')
        .execute();
      return rows.map(({ external_id, item_state, ...image }) => ({ image, externalId: external_id, state: item_state }));
    },

    async markManifested(id, m) {
      const moved = await db
        .updateTable('upload_batches')
        .set({ manifest_csv_key: m.csvKey, manifest_json_key: m.jsonKey, total: m.total, state: 'manifested', updated_at: new Date() })
        .where('id', '=', id)
        .where('state', '=', 'publishing')
        .executeTakeFirst();
      return Number(moved.numUpdatedRows) > 0;
    },

    async updateManifest(id, m) {
      await db
        .updateTable('upload_batches')
        .set({ manifest_csv_key: m.csvKey, manifest_json_key: m.jsonKey, total: m.total, updated_at: new Date() })
        .where('id', '=', id)
        .where('state', '=', 'manifested')
        .execute();
    },

    async collectionOf(uploadBatchId) {
      const row = await db.selectFrom('upload_batches').select('collection_id').where('id', '=', uploadBatchId).executeTakeFirst();
      return row?.collection_id;
    },
  };
}
