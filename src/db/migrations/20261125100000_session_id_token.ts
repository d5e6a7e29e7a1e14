import type { Kysely } from 'kysely';

/**
 * The provider's ID token, kept with the session so that logout can send it
 * as id_token_hint (without it a generic provider asks the user to confirm).
 * Sealed with a key derived from the session cookie, which only the browser
 * holds: the database alone cannot open it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('id_token_sealed', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('id_token_sealed').execute();
}
