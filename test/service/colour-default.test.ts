import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Migrator, sql } from 'kysely';
import { migrations } from '../../src/db/migrations/index.js';
import { COLOUR_PRESETS, DEFAULT_COLOUR_PRESET } from '../../src/imaging/colour/presets.js';
import { DB_KINDS, freshDatabase } from '../support/databases.js';
import { startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * The default colour preset is sky-asinh everywhere a default is written
 * down: registration without a colour (the API's schema, which the PI page
 * reads), the PI page's fallbacks (ui/js/pi/colour-presets.js), and the collections.colour column default (migration
 * 20261207090000_colour_default), which leaves existing rows as they were.
 */
const BEFORE = '20261206090000_batch_files_retrieved';
const AFTER = '20261207090000_colour_default';

/** A collection row written by hand, without a colour. */
async function insertWithoutColour(db: import('../../src/db/database.js').Db, name: string): Promise<string> {
  const row = await db
    .insertInto('collections')
    .values({ owner: 'alien', repository: 'dp1', name, source_kind: 'prefix', source_root: '/x', dataset_type: 'zooniverse_cutout', rgb: JSON.stringify(['i', 'r', 'g']), zooniverse_project_id: null, subject_set_naming: null, poll_interval_seconds: 900, status: 'active', cursor: null, last_polled_at: null, last_poll_error: null } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

it('the default preset is sky-asinh, and the PI page falls back on the same list and default', async () => {
  expect(DEFAULT_COLOUR_PRESET).toBe('sky-asinh');
  // The browser module has no imports, so Node loads it as it is.
  const ui = (await import('../../ui/js/pi/colour-presets.js' as string)) as { FALLBACK_PRESETS: readonly string[]; DEFAULT_PRESET: string };
  expect(ui.DEFAULT_PRESET).toBe(DEFAULT_COLOUR_PRESET);
  expect([...ui.FALLBACK_PRESETS]).toEqual([...COLOUR_PRESETS]);
});

for (const kind of DB_KINDS) {
  describe(`collections.colour default on ${kind}`, () => {
    it('is sky-asinh after the migration, auto before it and after going back; rows keep their colour', async () => {
      const t = await freshDatabase(kind);
      try {
        const m = new Migrator({ db: t.db, provider: { getMigrations: async () => migrations } });
        const colourOf = async (id: string) => (await t.db.selectFrom('collections').select('colour').where('id', '=', id).executeTakeFirstOrThrow()).colour;
        expect((await m.migrateTo(BEFORE)).error).toBeUndefined();
        const old = await insertWithoutColour(t.db, 'u/alien/old');
        const chosen = (await t.db.insertInto('collections').values({ owner: 'alien', repository: 'dp1', name: 'u/alien/chosen', source_kind: 'prefix', source_root: '/x', dataset_type: 'zooniverse_cutout', rgb: JSON.stringify(['i', 'r', 'g']), colour: JSON.stringify({ preset: 'lupton', Q: 8 }), zooniverse_project_id: null, subject_set_naming: null, poll_interval_seconds: 900, status: 'active', cursor: null, last_polled_at: null, last_poll_error: null }).returning('id').executeTakeFirstOrThrow()).id;
        expect(await colourOf(old)).toEqual({ preset: 'auto' });

        const up = await m.migrateToLatest();
        expect(up.error).toBeUndefined();
        expect(up.results?.map((r) => r.migrationName)).toContain(AFTER);
        // Existing rows are not rewritten.
        expect(await colourOf(old)).toEqual({ preset: 'auto' });
        expect(await colourOf(chosen)).toEqual({ preset: 'lupton', Q: 8 });
        // A row written without a colour now gets the default preset.
        expect(await colourOf(await insertWithoutColour(t.db, 'u/alien/new'))).toEqual({ preset: 'sky-asinh' });
        const { rows } = await sql<{ d: string }>`select column_default as d from information_schema.columns where table_name = 'collections' and column_name = 'colour'`.execute(t.db);
        expect(rows[0].d).toMatch(/sky-asinh/);

        // Rolled back, the column default is auto again (and nothing else changes).
        expect((await m.migrateTo(BEFORE)).error).toBeUndefined();
        expect(await colourOf(await insertWithoutColour(t.db, 'u/alien/rolled-back'))).toEqual({ preset: 'auto' });
        expect(await colourOf(old)).toEqual({ preset: 'auto' });
        expect((await m.migrateToLatest()).error).toBeUndefined();
      } finally {
        await t.close();
      }
    }, 60_000);
  });
}

describe('registration without a colour', () => {
  let d: DevApi;
  beforeAll(async () => {
    d = await startDevApi();
  }, 60_000);
  afterAll(async () => {
    await d?.close();
  });

  it('stores sky-asinh, the default the API documents for the PI page', async () => {
    const reg = await d.call('POST', '/api/v1/collections', 'alien', { repository: 'dp1', collection: 'u/alien/no-colour', sourceKind: 'prefix', sourceRoot: '.' });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const saved = await d.s.db.selectFrom('collections').select('colour').where('id', '=', reg.body.id).executeTakeFirstOrThrow();
    expect(saved.colour).toEqual({ preset: 'sky-asinh' });
    expect((await d.call('GET', `/api/v1/collections/${reg.body.id}`, 'alien')).body.colour).toEqual({ preset: 'sky-asinh' });
    const doc = await d.call('GET', '/api/v1/openapi.json', 'alien');
    const colour = doc.body.components.schemas.Registration.properties.colour;
    expect(colour.properties?.preset?.default ?? colour.default?.preset).toBe('sky-asinh');
    expect(colour.properties.preset.enum[0]).toBe('sky-asinh');
  }, 60_000);
});
