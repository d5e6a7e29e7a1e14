import { sql, type Kysely } from 'kysely';

/**
 * Results rules look only at what changed: every write of a subject's
 * reduction takes the next number of one sequence (reductions.change_seq),
 * and a collection's rules remember the highest number they have evaluated
 * (results_rules.evaluated_seq). A collection's reductions are written by
 * one run at a time (the reduction job holds its lock), so a later run's
 * numbers are all above an earlier run's: none is skipped.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create sequence reductions_change_seq`.execute(db);
  await db.schema.alterTable('reductions').addColumn('change_seq', 'bigint', (c) => c.notNull().defaultTo(sql`nextval('reductions_change_seq')`)).execute();
  await db.schema.createIndex('reductions_collection_change_idx').on('reductions').columns(['collection_id', 'change_seq']).execute();
  await db.schema.alterTable('results_rules').addColumn('evaluated_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('results_rules').dropColumn('evaluated_seq').execute();
  await db.schema.dropIndex('reductions_collection_change_idx').execute();
  await db.schema.alterTable('reductions').dropColumn('change_seq').execute();
  await sql`drop sequence reductions_change_seq`.execute(db);
}
