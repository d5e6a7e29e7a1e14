import { sql, type Kysely } from 'kysely';

/**
 * Whose decision is in force on an image, so that a changed fact (a panel
 * approval, the release mapping, the policy file, the owner's data rights)
 * re-evaluates only what the policy decided and never overturns a person:
 * `reviewed_by` is the reviewer whose approval or rejection stands (null
 * when the policy's verdict stands). `recheck_reason` says why an image came
 * back to review (its facts or its extra metadata changed after a verdict),
 * for the reviewer; a decision clears it.
 *
 * Existing rows take their reviewer from the append-only audit log: the
 * latest approve, reject or undo per image (an undo leaves nobody).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').addColumn('reviewed_by', 'text').addColumn('recheck_reason', 'text').execute();
  await sql`
    update images set reviewed_by = last.actor
    from (
      select distinct on (entity_id) entity_id, actor, action
      from audit_log
      where entity = 'image' and action in ('approve', 'reject', 'undo')
      order by entity_id, id desc
    ) as last
    where images.id = last.entity_id and last.action <> 'undo'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').dropColumn('recheck_reason').dropColumn('reviewed_by').execute();
}
