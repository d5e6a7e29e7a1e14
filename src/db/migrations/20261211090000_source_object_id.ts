import type { Kysely } from 'kysely';

/**
 * The catalogue id the producer wrote into the FITS file for a stamp
 * (OBJECT_ID and kin, fits-cutouts.ts), kept with the image so results can
 * be keyed by the PI's object ids even without an extra-metadata table.
 * Text: Rubin's ids are 64-bit and must keep every digit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').addColumn('source_object_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').dropColumn('source_object_id').execute();
}
