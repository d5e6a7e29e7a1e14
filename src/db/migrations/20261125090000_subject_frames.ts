import { sql, type Kysely } from 'kysely';

/**
 * Multi-location subjects: a collection may ask for the colour image to be
 * followed by one greyscale frame per band (Zooniverse shows the locations
 * as a flipbook). Frames are rendered at conversion, reviewed with their
 * image and published with it, so they get the same lifecycle columns.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('collections')
    .addColumn('subject_frames', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();

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
  await sql`comment on table image_frames is 'per-band greyscale frames of a colour image (flipbook subjects)'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_frames').ifExists().execute();
  await db.schema.alterTable('collections').dropColumn('subject_frames').execute();
}
