import { sql, type Kysely } from 'kysely';

/**
 * When every dataset a poll batch brought in had been retrieved into
 * quarantine (the PI's `files_retrieved` event: their copies may go).
 * Batches from before this column existed were never announced; they count
 * as announced, so no old batch sends the event late.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('batches').addColumn('files_retrieved_at', 'timestamptz').execute();
  await sql`update batches set files_retrieved_at = created_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('batches').dropColumn('files_retrieved_at').execute();
}
