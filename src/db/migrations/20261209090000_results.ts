import { sql, type Kysely } from 'kysely';

/**
 * The results loop (issue 14): volunteers' classifications of the bridge's
 * own subjects, the cursor of each project's pull, workflow task
 * definitions, running reductions per subject, the PI's results rules and
 * the ledger of effects applied on Zooniverse.
 *
 * Panoptes ids (classification, subject, workflow, project) are numeric
 * strings; classification ids are stored as bigint so that "above the
 * cursor" and "in id order" are numeric comparisons (select them as
 * `id::text`: drivers disagree on how they return int8).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per project the bridge pulls: the incremental cursor and the export backfill's state.
  await db.schema
    .createTable('classification_cursors')
    .addColumn('project_id', 'text', (c) => c.primaryKey())
    .addColumn('last_id', 'bigint')
    .addColumn('pulled_at', 'timestamptz')
    .addColumn('last_error', 'text')
    // Classifications kept (of the bridge's subjects) and ignored (anything else), since the first pull.
    .addColumn('kept', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('ignored', 'bigint', (c) => c.notNull().defaultTo(0))
    // Export backfill: none | requested | creating | rate_limited | ready | loading | loaded | failed
    .addColumn('export_state', 'text', (c) => c.notNull().defaultTo('none'))
    .addColumn('export_requested_at', 'text') // Panoptes' clock, ISO
    .addColumn('export_next_possible_at', 'timestamptz')
    .addColumn('export_loaded_updated_at', 'text') // Panoptes' updatedAt of the export last loaded
    .addColumn('export_rows', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('export_error', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // A workflow's task definitions (answer labels, tools), read from Panoptes: the API pull sends answer indices.
  await db.schema
    .createTable('workflows')
    .addColumn('workflow_id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('display_name', 'text')
    .addColumn('tasks', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('fetched_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // One row per classification and subject (a classification may name several subjects). Never an IP address.
  await db.schema
    .createTable('classifications')
    .addColumn('id', 'bigint', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    // Arrival order: the running reduction reads what arrived after its last run (exports arrive out of id order).
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('workflow_version', 'text')
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('image_id', 'uuid', (c) => c.notNull())
    // Opaque volunteer key (src/results/volunteer.ts): a user id, or a hash for anonymous volunteers.
    .addColumn('volunteer', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('annotations', 'jsonb', (c) => c.notNull())
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('gold_standard', 'boolean')
    .addColumn('expert', 'boolean')
    // 'pull' (API), 'export' (backfill) or 'caesar' (external effect)
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('classifications_pk', ['id', 'subject_id'])
    .execute();
  await db.schema.createIndex('classifications_collection_seq').on('classifications').columns(['collection_id', 'seq']).execute();
  await db.schema.createIndex('classifications_subject').on('classifications').columns(['workflow_id', 'subject_id', 'id']).execute();

  // Where each collection's running reduction has got to.
  await db.schema
    .createTable('reduction_progress')
    .addColumn('collection_id', 'uuid', (c) => c.primaryKey().references('collections.id').onDelete('cascade'))
    .addColumn('reduced_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    // SWAP volunteers' skills (shared by the collection's subjects); null without SWAP.
    .addColumn('swap_volunteers', 'jsonb')
    // Digest of the reduction options the stored states were built with: a change means a full recompute.
    .addColumn('options_digest', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // One subject's running state and its reduction.
  await db.schema
    .createTable('reductions')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('image_id', 'uuid', (c) => c.notNull())
    .addColumn('state', 'jsonb', (c) => c.notNull())
    .addColumn('result', 'jsonb', (c) => c.notNull())
    .addColumn('classifications', 'integer', (c) => c.notNull())
    // The highest classification id applied: an arrival below it means this subject is recomputed.
    .addColumn('through_id', 'bigint', (c) => c.notNull())
    // The first question task's consensus, for filtering and sorting without reading the JSON.
    .addColumn('task', 'text')
    .addColumn('most_likely', 'text')
    .addColumn('agreement', 'double precision')
    .addColumn('swap_probability', 'double precision')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('reductions_pk', ['workflow_id', 'subject_id'])
    .execute();
  await db.schema.createIndex('reductions_collection').on('reductions').columns(['collection_id', 'subject_id']).execute();
  await db.schema.createIndex('reductions_agreement').on('reductions').columns(['collection_id', 'agreement']).execute();

  // The PI's results rules (YAML, validated at load), off until switched on after a dry run.
  await db.schema
    .createTable('results_rules')
    .addColumn('collection_id', 'uuid', (c) => c.primaryKey().references('collections.id').onDelete('cascade'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Effects on Zooniverse and for the PI, each recorded before it is sent and applied once.
  await db.schema
    .createTable('result_effects')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('image_id', 'uuid', (c) => c.notNull())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    // retire_subject | add_subject_to_set | notify | flag
    .addColumn('kind', 'text', (c) => c.notNull())
    // retirement reason, subject set id, or '' (notify, flag)
    .addColumn('target', 'text', (c) => c.notNull().defaultTo(''))
    // intent | sending | ambiguous | done | failed | undone
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('intent'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('done_at', 'timestamptz')
    .addUniqueConstraint('result_effects_once', ['workflow_id', 'subject_id', 'kind', 'target'])
    .execute();
  await db.schema.createIndex('result_effects_collection_state').on('result_effects').columns(['collection_id', 'state']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['result_effects', 'results_rules', 'reductions', 'reduction_progress', 'classifications', 'workflows', 'classification_cursors']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
