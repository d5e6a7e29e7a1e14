import { sql, type Kysely } from 'kysely';

/**
 * The default colour preset is `sky-asinh` (src/imaging/colour/presets.ts
 * DEFAULT_COLOUR_PRESET): the column default says so too, for a collection
 * row written without a colour. Registration always writes one; rows that
 * exist keep the colour they were registered with.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('collections').alterColumn('colour', (c) => c.setDefault(sql`'{"preset":"sky-asinh"}'::jsonb`)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('collections').alterColumn('colour', (c) => c.setDefault(sql`'{"preset":"auto"}'::jsonb`)).execute();
}
