import { sql, type Kysely } from 'kysely';

/**
 * The optional Caesar path of the results loop (issue 14): projects that
 * already run Caesar point an `external_with_basic_auth` effect at the
 * bridge, which keeps the latest reduction per (workflow, subject, reducer).
 *
 * caesar_endpoints holds one row per collection that accepts Caesar's POSTs:
 * only a sha256 hash of the random secret (the secret is shown to the owner
 * once), who set it, and how many deliveries were stored or ignored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('caesar_endpoints')
    .addColumn('collection_id', 'uuid', (c) => c.primaryKey().references('collections.id').onDelete('cascade'))
    // hex sha256 of the secret: a 32-byte random secret needs no slow hash.
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('stored', 'bigint', (c) => c.notNull().defaultTo(0))
    // Deliveries about subjects that are not this collection's (answered 200 so Caesar stops retrying).
    .addColumn('ignored', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_received_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('caesar_reductions')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('reducer_key', 'text', (c) => c.notNull())
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('image_id', 'uuid', (c) => c.notNull())
    .addColumn('data', 'jsonb')
    .addColumn('caesar_id', 'text')
    // Caesar's updated_at, normalised to ISO 8601 UTC with milliseconds, so text order is time order.
    .addColumn('caesar_updated_at', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('caesar_reductions_pk', ['workflow_id', 'subject_id', 'reducer_key'])
    .execute();
  await db.schema.createIndex('caesar_reductions_collection').on('caesar_reductions').columns(['collection_id', 'subject_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('caesar_reductions').execute();
  await db.schema.dropTable('caesar_endpoints').execute();
}
