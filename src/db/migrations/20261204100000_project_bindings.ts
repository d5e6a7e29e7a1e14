import { sql, type Kysely } from 'kysely';

/**
 * The Zooniverse projects an admin approved for each PI: a collection's
 * zooniverseProjectId may only name one of its owner's. Without this any PI
 * could push subjects into any project the EPO Zooniverse account works on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('project_bindings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('approved_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('project_bindings_user_project', ['username', 'project_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('project_bindings').ifExists().execute();
}
