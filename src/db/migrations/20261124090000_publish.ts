import { sql, type Kysely } from 'kysely';

/**
 * Publishing and upload: where each approved image went in the public store,
 * upload batches (one manifest and subject set each), the per-subject ledger
 * that makes Zooniverse uploads exactly-once, and the event log behind
 * notifications.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('images')
    // Permanent, content-addressed key in the public store (what was published, stripped or not).
    .addColumn('public_key', 'text')
    .addColumn('public_sha256', 'text')
    .addColumn('published_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('upload_batches')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull().check(sql`mode in ('import', 'api', 'export')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('publishing', 'manifested', 'uploading', 'verifying', 'uploaded', 'blocked', 'failed', 'retracted')`))
    .addColumn('subject_set_id', 'text')
    .addColumn('import_id', 'text')
    .addColumn('manifest_csv_key', 'text')
    .addColumn('manifest_json_key', 'text')
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('upload_batches_collection_seq', ['collection_id', 'seq'])
    .execute();

  await db.schema
    .createTable('upload_items')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('upload_batch_id', 'uuid', (c) => c.notNull().references('upload_batches.id').onDelete('cascade'))
    .addColumn('image_id', 'uuid', (c) => c.notNull().references('images.id').onDelete('cascade'))
    // The subject's external_id at Zooniverse: written here before any request is sent.
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('intent', 'created', 'linked', 'failed', 'retracted')`))
    .addColumn('subject_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('upload_items_batch_image', ['upload_batch_id', 'image_id'])
    .addUniqueConstraint('upload_items_external_id', ['external_id'])
    .execute();
  await db.schema.createIndex('upload_items_state').on('upload_items').columns(['upload_batch_id', 'state']).execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('delivery_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('delivery_error', 'text')
    .execute();
  await db.schema.createIndex('events_collection').on('events').columns(['collection_id', 'id']).execute();

  await db.schema
    .alterTable('collections')
    .addColumn('webhook_url', 'text')
    // HMAC key for the webhook's signature; shown once to the PI, never logged.
    .addColumn('webhook_secret', 'text')
    .addColumn('upload_mode', 'text', (c) => c.notNull().defaultTo('import').check(sql`upload_mode in ('import', 'api')`))
    .addColumn('max_batch_size', 'integer', (c) => c.notNull().defaultTo(1000).check(sql`max_batch_size between 1 and 10000`))
    .addColumn('subject_set_per', 'text', (c) => c.notNull().defaultTo('batch').check(sql`subject_set_per in ('batch', 'collection')`))
    .addColumn('extra_metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const c of ['extra_metadata', 'subject_set_per', 'max_batch_size', 'upload_mode', 'webhook_secret', 'webhook_url']) await db.schema.alterTable('collections').dropColumn(c).execute();
  for (const t of ['events', 'upload_items', 'upload_batches']) await db.schema.dropTable(t).ifExists().execute();
  for (const c of ['published_at', 'public_sha256', 'public_key']) await db.schema.alterTable('images').dropColumn(c).execute();
}
