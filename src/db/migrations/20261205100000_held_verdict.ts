import { sql, type Kysely } from 'kysely';

/**
 * A policy may now hold an image (verdict 'held'): it stays in quarantine,
 * out of review, until a fact it waits on changes, e.g. the Data Rights
 * Panel approves the collection. Until now such images were rejected.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table images drop constraint if exists images_verdict_check`.execute(db);
  await sql`alter table images add constraint images_verdict_check check (verdict in ('rejected', 'held', 'auto_approved', 'pending_review'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`update images set verdict = null where verdict = 'held'`.execute(db);
  await sql`alter table images drop constraint if exists images_verdict_check`.execute(db);
  await sql`alter table images add constraint images_verdict_check check (verdict in ('rejected', 'auto_approved', 'pending_review'))`.execute(db);
}
