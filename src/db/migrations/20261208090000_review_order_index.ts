import type { Kysely } from 'kysely';

/**
 * The review listing pages through a collection's images in
 * (created_at, group_key, stamp_index, id) order, 100 at a time (keyset
 * paging, src/db/repositories/images.ts listForReview). Without an index in
 * that order every page sorted the whole collection: 21 ms of a 10,000-image
 * collection's first page on PGlite, growing with the collection. With it,
 * a page reads its 101 rows off the index. The second index serves the
 * listing across every collection (admins and reviewers without a filter).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('images_review_order').on('images').columns(['collection_id', 'created_at', 'group_key', 'stamp_index', 'id']).execute();
  await db.schema.createIndex('images_review_order_all').on('images').columns(['created_at', 'group_key', 'stamp_index', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('images_review_order_all').execute();
  await db.schema.dropIndex('images_review_order').execute();
}
