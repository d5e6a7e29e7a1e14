import type { Kysely } from 'kysely';

/**
 * A reviewer's approval no longer publishes at once: `images.publish_after`
 * is when the publishing delay ends (until then Undo takes the approval
 * back and nothing has left quarantine). Null means no delay applies (the
 * policy's own approvals, and rows approved before this column existed).
 * `collections.publish_delay_seconds` is an admin's per-collection override
 * of PUBLISH_DELAY_SECONDS (null = the deployment's default).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').addColumn('publish_after', 'timestamptz').execute();
  await db.schema.alterTable('collections').addColumn('publish_delay_seconds', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').dropColumn('publish_after').execute();
  await db.schema.alterTable('collections').dropColumn('publish_delay_seconds').execute();
}
