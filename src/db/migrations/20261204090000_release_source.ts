import { sql, type Kysely } from 'kysely';

/**
 * A collection's data release is derived by the system from its repository
 * label (the operator's release mapping), no longer stated by the PI. These
 * columns keep what the mapping said and where the release came from.
 *
 * Collections registered before this kept a release their PI may have
 * chosen: they are marked `pi_claim`, proprietary, under the prompt embargo
 * (the least permissive reading) until an admin sets their release.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('collections')
    .addColumn('release_source', 'text', (c) => c.notNull().defaultTo('pi_claim'))
    .addColumn('release_proprietary', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('release_embargo_hours', 'double precision', (c) => c.notNull().defaultTo(80))
    .execute();
  await sql`alter table collections add constraint collections_release_source check (release_source in ('mapping', 'admin', 'unmapped', 'pi_claim'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table collections drop constraint if exists collections_release_source`.execute(db);
  for (const c of ['release_embargo_hours', 'release_proprietary', 'release_source']) await db.schema.alterTable('collections').dropColumn(c).execute();
}
