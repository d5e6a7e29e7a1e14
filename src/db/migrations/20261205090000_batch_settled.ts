import { sql, type Kysely } from 'kysely';

/**
 * A poll batch is "settled" once everything it brought in has been
 * retrieved, converted (or failed) and judged by the policy: that is when the
 * PI gets one `batch_quarantined` event for it, instead of one per band
 * group. Batches from before this column existed were notified the old way,
 * so they count as settled.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('batches').addColumn('settled_at', 'timestamptz').execute();
  await sql`update batches set settled_at = created_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('batches').dropColumn('settled_at').execute();
}
