import { sql, type Kysely } from 'kysely';

/** Collections, artifacts, images and the transition log: the spine of the pipeline. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('collections')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('source_kind', 'text', (c) => c.notNull().check(sql`source_kind in ('butler', 'prefix')`))
    .addColumn('source_root', 'text')
    .addColumn('dataset_type', 'text', (c) => c.notNull())
    .addColumn('rgb', 'jsonb')
    .addColumn('colour', 'jsonb', (c) => c.notNull().defaultTo(sql`'{"preset":"auto"}'::jsonb`))
    .addColumn('zooniverse_project_id', 'text')
    .addColumn('subject_set_naming', 'text')
    .addColumn('poll_interval_seconds', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'paused', 'retired')`))
    .addColumn('cursor', 'text')
    .addColumn('last_polled_at', 'timestamptz')
    .addColumn('last_poll_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('collections_repository_name', ['repository', 'name'])
    .execute();

  await db.schema
    .createTable('artifacts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('dataset_type', 'text', (c) => c.notNull())
    .addColumn('run', 'text', (c) => c.notNull())
    .addColumn('data_id', 'jsonb', (c) => c.notNull())
    .addColumn('band', 'text')
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('cursor', 'text', (c) => c.notNull())
    .addColumn('path', 'text')
    .addColumn('size', 'bigint')
    .addColumn('sha256', 'text')
    .addColumn('object_key', 'text')
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('discovered', 'retrieved', 'converted', 'failed')`))
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The same dataset polled twice is one artifact: idempotency by construction.
    .addUniqueConstraint('artifacts_collection_dataset', ['collection_id', 'dataset_id'])
    .execute();
  await db.schema.createIndex('artifacts_state').on('artifacts').columns(['state', 'updated_at']).execute();
  await db.schema.createIndex('artifacts_group').on('artifacts').columns(['collection_id', 'group_key']).execute();

  await db.schema
    .createTable('images')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('stamp_index', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed')`),
    )
    .addColumn('ra', 'double precision')
    .addColumn('dec', 'double precision')
    .addColumn('wcs_quality', 'text', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('quarantine_key', 'text', (c) => c.notNull())
    .addColumn('bands', 'jsonb', (c) => c.notNull())
    .addColumn('colour', 'jsonb', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('images_group_stamp', ['collection_id', 'group_key', 'stamp_index'])
    .execute();
  await db.schema.createIndex('images_state').on('images').columns(['collection_id', 'state']).execute();

  await db.schema
    .createTable('transitions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('entity', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'uuid', (c) => c.notNull())
    .addColumn('from_state', 'text')
    .addColumn('to_state', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('transitions_entity').on('transitions').columns(['entity', 'entity_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['transitions', 'images', 'artifacts', 'collections']) await db.schema.dropTable(t).ifExists().execute();
}
