import { sql, type Kysely } from 'kysely';

/**
 * Multi-location subjects: a collection may ask for the colour image to be
 * followed by one greyscale frame per band (Zooniverse shows the locations
 * as a flipbook). Frames are rendered at conversion, reviewed with their
 * image and published with it, so they get the same lifecycle columns.
 *
 * Paced uploads: the PI's setting or a policy rule (per image) can ask for
 * one incomplete subject set at a time; a batch that has to wait for the
 * previous set to be finished by volunteers rests in state 'waiting'.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('collections')
    .addColumn('subject_frames', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('one_incomplete_set', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.alterTable('images').addColumn('one_incomplete_set', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  // When volunteers were seen to have finished the batch's set: checked at Zooniverse until then, never after.
  await db.schema.alterTable('upload_batches').addColumn('set_completed_at', 'timestamptz').execute();
  await sql`alter table upload_batches drop constraint upload_batches_state_check`.execute(db);
  await sql`alter table upload_batches add constraint upload_batches_state_check check (state in ('publishing', 'manifested', 'waiting', 'uploading', 'verifying', 'uploaded', 'blocked', 'failed', 'retracted'))`.execute(db);

  await db.schema
    .createTable('image_frames')
    .addColumn('image_id', 'uuid', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('band', 'text', (c) => c.notNull())
    // Location order after the colour image (1 = first frame).
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('quarantine_key', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('public_key', 'text')
    .addColumn('public_sha256', 'text')
    .addPrimaryKeyConstraint('image_frames_pkey', ['image_id', 'band'])
    .execute();
  await db.schema.createIndex('image_frames_public_key').on('image_frames').column('public_key').execute();
  // Takedown asks whether another image still uses a public object, and planning whether an image is in a batch yet.
  await db.schema.createIndex('images_public_key').on('images').column('public_key').where(sql.ref('public_key'), 'is not', null).execute();
  await db.schema.createIndex('upload_items_image').on('upload_items').column('image_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('upload_items_image').ifExists().execute();
  await db.schema.dropIndex('images_public_key').ifExists().execute();
  await db.schema.dropTable('image_frames').ifExists().execute();
  await sql`update upload_batches set state = 'manifested' where state = 'waiting'`.execute(db);
  await sql`alter table upload_batches drop constraint upload_batches_state_check`.execute(db);
  await sql`alter table upload_batches add constraint upload_batches_state_check check (state in ('publishing', 'manifested', 'uploading', 'verifying', 'uploaded', 'blocked', 'failed', 'retracted'))`.execute(db);
  await db.schema.alterTable('upload_batches').dropColumn('set_completed_at').execute();
  await db.schema.alterTable('images').dropColumn('one_incomplete_set').execute();
  await db.schema.alterTable('collections').dropColumn('one_incomplete_set').dropColumn('subject_frames').execute();
}
