import { sql, type Kysely } from 'kysely';

/**
 * Identity and review: browser sessions and login flows, delegated
 * collection prefixes, review batches, each image's policy verdict, and the
 * append-only audit log of decisions.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('collections')
    // The Data Rights Panel's decision for this collection (set by an admin).
    .addColumn('panel_approval', 'text', (c) => c.notNull().defaultTo('none').check(sql`panel_approval in ('none', 'approved')`))
    // Data release of the collection's datasets (dp1, dr1, prompt...), a policy fact.
    .addColumn('data_release', 'text')
    // The registering PI's data_rights claim at registration: the worker has no session to ask.
    .addColumn('owner_data_rights', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();

  await db.schema
    .createTable('batches')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('collection_id', 'uuid', (c) => c.notNull().references('collections.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('batches_collection_seq', ['collection_id', 'seq'])
    .execute();
  await db.schema.alterTable('artifacts').addColumn('batch_id', 'uuid', (c) => c.references('batches.id').onDelete('set null')).execute();

  await db.schema
    .alterTable('images')
    .addColumn('batch_id', 'uuid', (c) => c.references('batches.id').onDelete('set null'))
    .addColumn('verdict', 'text', (c) => c.check(sql`verdict in ('rejected', 'auto_approved', 'pending_review')`))
    .addColumn('verdict_reasons', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('verdict_rules', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('strip_coordinates', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('policy_ref', 'text')
    .addColumn('policy_digest', 'text')
    .addColumn('evaluated_at', 'timestamptz')
    // From the FITS headers (DATE-OBS / MJD-OBS); the prompt embargo counts from it.
    .addColumn('observed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('images_review').on('images').columns(['collection_id', 'verdict', 'state']).execute();
  await db.schema.createIndex('images_batch').on('images').columns(['batch_id']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('entity', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'uuid', (c) => c.notNull())
    .addColumn('collection_id', 'uuid')
    .addColumn('policy_ref', 'text')
    .addColumn('reason', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('audit_entity').on('audit_log').columns(['entity_id', 'id']).execute();
  await db.schema.createIndex('audit_collection').on('audit_log').columns(['collection_id', 'id']).execute();
  // Append-only in the database itself, not just by convention in the code.
  await sql`create function audit_log_append_only() returns trigger language plpgsql as $$
    begin raise exception 'audit_log is append-only'; end $$`.execute(db);
  await sql`create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_append_only()`.execute(db);

  await db.schema
    .createTable('sessions')
    // sha256 of the cookie value: a database leak does not hand out sessions.
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('roles', 'jsonb', (c) => c.notNull())
    .addColumn('groups', 'jsonb', (c) => c.notNull())
    .addColumn('data_rights', 'jsonb', (c) => c.notNull())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expiry').on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('login_flows')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('return_to', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('delegations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('username', 'text', (c) => c.notNull())
    // A collection-name prefix, e.g. 'u/ops-team/': the user may register below it.
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('granted_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('delegations_user_prefix', ['username', 'prefix'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['delegations', 'login_flows', 'sessions', 'audit_log']) await db.schema.dropTable(t).ifExists().execute();
  await sql`drop function if exists audit_log_append_only()`.execute(db);
  for (const c of ['observed_at', 'evaluated_at', 'policy_digest', 'policy_ref', 'strip_coordinates', 'verdict_rules', 'verdict_reasons', 'verdict', 'batch_id']) {
    await db.schema.alterTable('images').dropColumn(c).execute();
  }
  await db.schema.alterTable('artifacts').dropColumn('batch_id').execute();
  await db.schema.dropTable('batches').ifExists().execute();
  for (const c of ['owner_data_rights', 'data_release', 'panel_approval']) await db.schema.alterTable('collections').dropColumn(c).execute();
}
