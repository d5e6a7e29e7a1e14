import { sql, type Kysely } from 'kysely';

/**
 * A PI's request that an admin approve a Zooniverse project for them
 * (POST /api/v1/project-binding-requests), waiting on the admin page until
 * an admin approves it (which makes the project_bindings row and removes the
 * request) or declines it. One request per PI and project.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('project_binding_requests')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('project_binding_requests_user_project', ['username', 'project_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('project_binding_requests').ifExists().execute();
}
