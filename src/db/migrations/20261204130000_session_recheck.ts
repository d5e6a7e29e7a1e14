import { sql, type Kysely } from 'kysely';

/**
 * Browser sessions re-read the user's groups and data rights from the
 * identity provider every SESSION_ROLES_REFRESH_SECONDS instead of ending:
 * the provider's access token is kept sealed under the cookie (like the ID
 * token) to ask userinfo again, and `roles_checked_at` says when it last
 * answered. Sessions without a token (older ones, dev sign-in) end as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('sessions')
    .addColumn('access_token_sealed', 'text')
    .addColumn('roles_checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`update sessions set roles_checked_at = created_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('roles_checked_at').dropColumn('access_token_sealed').execute();
}
