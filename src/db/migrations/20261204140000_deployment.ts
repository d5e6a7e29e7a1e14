import { sql, type Kysely } from 'kysely';

/**
 * One row naming this deployment: its database is its identity. The queue
 * keys in Redis are prefixed with it (unless QUEUE_PREFIX says otherwise), so
 * a second deployment pointed at the same Redis database by mistake neither
 * runs nor drops the first one's jobs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('deployment')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into deployment default values`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('deployment').ifExists().execute();
}
