import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { publishImage, unpublishImage } from '../../src/domain/publish.js';
import { manifestCsv, MAX_IMPORT_ROWS, planUploadBatches, writeManifests } from '../../src/domain/manifest.js';
import { looksPositional, parseExtraMetadata, subjectMetadata } from '../../src/domain/subject-metadata.js';
import { insertImages, type NewImage } from '../../src/db/repositories/images.js';
import { createBatch } from '../../src/db/repositories/batches.js';
import type { Db } from '../../src/db/database.js';
import type { Collection } from '../../src/db/schema.js';
import { DB_KINDS } from '../support/databases.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { artifacts, collection, csvObjects, parseCsv, seedImages, publishSetting } from './helpers.js';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** Published rows without objects behind them: planning only reads the database. */
async function publishedRows(db: Db, c: Collection, n: number, groups = 5, from = 0): Promise<string[]> {
  const b = await createBatch(db, c.id);
  const rows: NewImage[] = Array.from({ length: n }, (_, k) => k + from).map((i) => ({
    collectionId: c.id,
    groupKey: `{"patch":${i % groups},"tract":1}`,
    stampIndex: Math.floor(i / groups),
    state: 'quarantined',
    ra: null,
    dec: null,
    wcsQuality: 'none',
    width: 8,
    height: 8,
    bytes: 10,
    sha256: hex(`${c.id}${i}`),
    quarantineKey: `images/${c.id}/${i}.png`,
    bands: ['g'],
    colour: {},
    error: null,
    batchId: b.id,
  }));
  const inserted = await insertImages(db, rows, 'converter');
  await db
    .updateTable('images')
    .set({ state: 'published', public_sha256: sql<string>`sha256`, public_key: sql<string>`'subjects/' || sha256 || '.png'` })
    .where('collection_id', '=', c.id)
    .where('state', '=', 'quarantined')
    .execute();
  return inserted.map((r) => r.id);
}

for (const kind of DB_KINDS) {
  describe(`upload batches and manifests on ${kind}`, () => {
    const env = publishSetting(kind);

    it('splits 2,500 published images at 1,000 into 1,000/1,000/500 in stable order, once', async () => {
      const c = await collection(env.t.db, { maxBatch: 1000 });
      await publishedRows(env.t.db, c, 2500);
      // Two planners at once: the collection lock lets one of them do it all.
      const [p1, p2] = await Promise.all([planUploadBatches({ repos: createRepositories(env.t.db) }, c.id), planUploadBatches({ repos: createRepositories(env.t.db) }, c.id)]);
      const planned = [...p1, ...p2];
      expect(planned.map((b) => [b.seq, b.total])).toEqual([
        [1, 1000],
        [2, 1000],
        [3, 500],
      ]);
      const batches = await env.t.db.selectFrom('upload_batches').selectAll().where('collection_id', '=', c.id).orderBy('seq').execute();
      expect(batches.map((b) => [b.seq, b.mode, b.state, b.total])).toEqual([
        [1, 'import', 'publishing', 1000],
        [2, 'import', 'publishing', 1000],
        [3, 'import', 'publishing', 500],
      ]);
      const items = await env.t.db
        .selectFrom('upload_items')
        .innerJoin('images', 'images.id', 'upload_items.image_id')
        .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
        .select(['upload_batches.seq', 'upload_items.external_id', 'upload_items.state', 'images.id', 'images.group_key', 'images.stamp_index'])
        .where('images.collection_id', '=', c.id)
        .execute();
      expect(items).toHaveLength(2500);
      expect(new Set(items.map((i) => i.id)).size).toBe(2500);
      expect(items.every((i) => i.external_id === i.id && i.state === 'intent')).toBe(true);
      // Stable order: batch 1 holds the first 1,000 by (group, stamp).
      const order = [...items].sort((a, b) => (a.group_key < b.group_key ? -1 : a.group_key > b.group_key ? 1 : a.stamp_index - b.stamp_index));
      expect(order.slice(0, 1000).every((i) => i.seq === 1)).toBe(true);
      expect(order.slice(2000).every((i) => i.seq === 3)).toBe(true);

      expect(await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id)).toEqual([]);
      await publishedRows(env.t.db, c, 7, 5, 2500);
      expect((await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id)).map((b) => [b.seq, b.total])).toEqual([[4, 7]]);
    });

    it('uses the collection upload mode, and ignores images that are not published', async () => {
      const c = await collection(env.t.db);
      await env.t.db.updateTable('collections').set({ upload_mode: 'api' }).where('id', '=', c.id).execute();
      await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[0].png, stampIndex: 0, state: 'approved' }]);
      expect(await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id)).toEqual([]);
      await publishedRows(env.t.db, c, 3);
      const [b] = await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id);
      expect(b.total).toBe(3);
      expect((await env.t.db.selectFrom('upload_batches').select('mode').where('id', '=', b.id).executeTakeFirstOrThrow()).mode).toBe('api');
    });

    it('writes the subject_set_imports CSV and the API JSON to the public store, with the metadata conventions', async () => {
      const extra = {
        columns: { survey: 'Rubin "DP1", simulated\nsecond line', '#pipeline': 'v2' },
        objects: {
          '0': { ml_score: 0.25 },
          '1': { ml_score: 0.75, ra_deg: '150.1', note: 'see ra=150.1' },
        },
      };
      const c = await collection(env.t.db, { extra });
      const datasetIds = await artifacts(env.t.db, c);
      const [open, hidden] = await seedImages(env.t.db, env.fs.store, c, [
        { png: env.stamps[2].png, stampIndex: 0, strip: false, ra: 150.1234567, dec: -2.5 },
        { png: env.stamps[3].png, stampIndex: 1, strip: true, ra: 151.987654, dec: 3.25 },
      ]);
      await env.t.db.updateTable('collections').set({ extra_metadata: JSON.stringify({ ...extra, objects: { ...extra.objects, [hidden.id]: { '#priority': 3 } } }) }).where('id', '=', c.id).execute();
      const pub = [await publishImage({ repos: createRepositories(env.t.db), store: env.fs.store }, open.id), await publishImage({ repos: createRepositories(env.t.db), store: env.fs.store }, hidden.id)];
      const [batch] = await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id);
      const m = await writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, batch.id);
      expect(m).toMatchObject({ seq: 1, total: 2, csvKey: `manifests/${c.id}/batch-1.csv`, jsonKey: `manifests/${c.id}/batch-1.json`, unchanged: false });
      expect(m.csvUrl).toBe(`http://bridge.test/public/manifests/${c.id}/batch-1.csv`);
      expect(Object.keys(m.dropped)).toEqual([hidden.id]);
      expect(m.dropped[hidden.id].sort()).toEqual(['note', 'ra_deg']);

      const csvObj = await env.fs.store.get('public', m.csvKey);
      expect(csvObj.contentType).toBe('text/csv; charset=utf-8');
      const csv = new TextDecoder().decode(csvObj.body);
      expect(csv.endsWith('\n')).toBe(true);
      expect(csv).not.toContain('\r');
      const [header] = parseCsv(csv);
      expect(header).toEqual([
        'external_id',
        'location:1',
        'metadata:#collection',
        'metadata:#collection_id',
        'metadata:#dataset_ids',
        'metadata:#stamp_index',
        'metadata:#bridge_image_id',
        'metadata:#content_hash',
        'metadata:#upload_batch',
        'metadata:!ra',
        'metadata:!dec',
        'metadata:!Legacy Survey',
        'metadata:!SIMBAD',
        'metadata:survey',
        'metadata:#pipeline',
        'metadata:ml_score',
        'metadata:#priority',
      ]);
      const [a, b] = csvObjects(csv);
      expect(a).toMatchObject({
        external_id: open.id,
        'location:1': pub[0].url,
        'metadata:#collection': c.name,
        'metadata:#collection_id': c.id,
        'metadata:#dataset_ids': datasetIds.join(','),
        'metadata:#stamp_index': '0',
        'metadata:#bridge_image_id': open.id,
        'metadata:#content_hash': pub[0].publicSha256,
        'metadata:#upload_batch': '1',
        'metadata:!ra': '150.123457',
        'metadata:!dec': '-2.500000',
        'metadata:!Legacy Survey': '[view](https://www.legacysurvey.org/viewer?ra=150.123457&dec=-2.500000&zoom=15)',
        'metadata:survey': 'Rubin "DP1", simulated\nsecond line',
        'metadata:ml_score': '0.25',
        'metadata:#priority': '',
      });
      expect(a['metadata:!SIMBAD']).toMatch(/^\[objects within 10"\]\(https:\/\/simbad\.cds\.unistra\.fr\/simbad\/sim-coo\?Coord=150\.123457\+-2\.500000&CooFrame=ICRS&Radius=10&Radius\.unit=arcsec\)$/);
      // The stripped subject: no coordinate-bearing value anywhere in its row.
      expect(b).toMatchObject({ external_id: hidden.id, 'location:1': pub[1].url, 'metadata:#content_hash': pub[1].publicSha256, 'metadata:ml_score': '0.75', 'metadata:#priority': '3' });
      for (const k of ['metadata:!ra', 'metadata:!dec', 'metadata:!Legacy Survey', 'metadata:!SIMBAD']) expect(b[k]).toBe('');
      expect(Object.values(b).join(' ')).not.toMatch(/151\.98|3\.25|ra=/);
      // The quoting survives a round trip through an independent reader, and the raw text shows RFC 4180 quoting.
      expect(csv).toContain('"Rubin ""DP1"", simulated\nsecond line"');

      const jsonObj = await env.fs.store.get('public', m.jsonKey);
      expect(jsonObj.contentType).toBe('application/json');
      const subjects = JSON.parse(new TextDecoder().decode(jsonObj.body));
      expect(subjects).toHaveLength(2);
      expect(subjects[0]).toEqual({
        external_id: open.id,
        locations: [{ 'image/png': pub[0].url }],
        metadata: {
          '#collection': c.name,
          '#collection_id': c.id,
          '#dataset_ids': datasetIds.join(','),
          '#stamp_index': 0,
          '#bridge_image_id': open.id,
          '#content_hash': pub[0].publicSha256,
          '#upload_batch': 1,
          '!ra': '150.123457',
          '!dec': '-2.500000',
          '!Legacy Survey': a['metadata:!Legacy Survey'],
          '!SIMBAD': a['metadata:!SIMBAD'],
          survey: 'Rubin "DP1", simulated\nsecond line',
          '#pipeline': 'v2',
          ml_score: 0.25,
        },
      });
      expect(Object.keys(subjects[1].metadata).filter((k) => k.startsWith('!') || /ra|dec/i.test(k))).toEqual([]);
      expect(subjects[1].metadata['#priority']).toBe(3);
      expect(JSON.stringify(subjects[1])).not.toMatch(/151\.98|3\.25/);

      const row = await env.t.db.selectFrom('upload_batches').selectAll().where('id', '=', batch.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'manifested', total: 2, manifest_csv_key: m.csvKey, manifest_json_key: m.jsonKey });
      const events = await env.t.db.selectFrom('events').selectAll().where('collection_id', '=', c.id).execute();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ kind: 'batch_published' });
      expect(events[0].payload).toMatchObject({ uploadBatchId: batch.id, seq: 1, total: 2, manifestCsvUrl: m.csvUrl, manifestJsonUrl: m.jsonUrl });

      // Again: the same files, no second event.
      const again = await writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, batch.id);
      expect(again.total).toBe(2);
      expect(Buffer.from((await env.fs.store.get('public', m.csvKey)).body).equals(Buffer.from(csvObj.body))).toBe(true);
      expect(await env.t.db.selectFrom('events').select('id').where('collection_id', '=', c.id).execute()).toHaveLength(1);

      // A retraction before upload: re-manifesting leaves the subject out.
      await unpublishImage({ repos: createRepositories(env.t.db), store: env.fs.store }, open.id, 'epo', 'takedown');
      const after = await writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, batch.id);
      expect(after.total).toBe(1);
      expect(csvObjects(new TextDecoder().decode((await env.fs.store.get('public', m.csvKey)).body)).map((r) => r.external_id)).toEqual([hidden.id]);

      // Once the upload has started the manifests are left alone.
      await env.t.db.updateTable('upload_batches').set({ state: 'uploading' }).where('id', '=', batch.id).execute();
      expect(await writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, batch.id)).toMatchObject({ unchanged: true, total: 1 });
    });

    it('refuses a batch holding an image that is not published', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[4].png, stampIndex: 0 }]);
      await publishImage({ repos: createRepositories(env.t.db), store: env.fs.store }, img.id);
      const [batch] = await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id);
      await env.t.db.updateTable('images').set({ state: 'approved' }).where('id', '=', img.id).execute();
      await expect(writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, batch.id)).rejects.toThrow(/not published/);
    });

    it(`never writes a manifest of more than ${MAX_IMPORT_ROWS} rows`, async () => {
      const c = await collection(env.t.db, { maxBatch: 10_000 });
      const ids = await publishedRows(env.t.db, c, MAX_IMPORT_ROWS + 1, 50);
      const [first, second] = await planUploadBatches({ repos: createRepositories(env.t.db) }, c.id);
      expect([first.total, second.total]).toEqual([MAX_IMPORT_ROWS, 1]);
      // Forced past the planner's limit by hand: the writer still refuses.
      const stray = await env.t.db.selectFrom('upload_items').select('id').where('upload_batch_id', '=', second.id).executeTakeFirstOrThrow();
      await env.t.db.updateTable('upload_items').set({ upload_batch_id: first.id }).where('id', '=', stray.id).execute();
      await expect(writeManifests({ repos: createRepositories(env.t.db), store: env.fs.store }, first.id)).rejects.toThrow(/at most 10000/);
      expect(ids).toHaveLength(MAX_IMPORT_ROWS + 1);
    }, 120_000);
  });
}

describe('manifest building blocks', () => {
  it('extra_metadata is validated: shape, reserved keys, value types, numeric #priority', () => {
    expect(parseExtraMetadata({})).toEqual({ columns: {}, objects: {} });
    expect(parseExtraMetadata({ columns: { a: 1, b: 'x', c: true }, objects: { '3': { ml: 0.5 } } })).toEqual({ columns: { a: 1, b: 'x', c: true }, objects: { '3': { ml: 0.5 } } });
    expect(() => parseExtraMetadata([])).toThrow(/must be an object/);
    expect(() => parseExtraMetadata({ colums: {} })).toThrow(/unknown member "colums"/);
    expect(() => parseExtraMetadata({ columns: { '#content_hash': 'x' } })).toThrow(/set by the bridge/);
    expect(() => parseExtraMetadata({ columns: { '!ra': 1 } })).toThrow(/set by the bridge/);
    expect(() => parseExtraMetadata({ columns: { a: { nested: 1 } } })).toThrow(/string, a finite number or a boolean/);
    expect(() => parseExtraMetadata({ objects: { x: { '#priority': 'high' } } })).toThrow(/#priority.*must be a number/);
    expect(() => parseExtraMetadata({ columns: { 'a\nb': 1 } })).toThrow(/printable/);
  });

  it('positional extra columns are recognised by name and by value', () => {
    for (const k of ['ra', 'RA_deg', '!dec', 'objectRa', 'sky coords', 'l_position', 'glon', 'Legacy link', '#tract']) expect(looksPositional(k, 'x')).toBe(true);
    for (const k of ['ml_score', 'survey', 'ratio', 'decision', 'radius_px', '#priority']) expect(looksPositional(k, 0.5)).toBe(false);
    expect(looksPositional('link', 'https://x.org/?ra=150.1&dec=2')).toBe(true);
    expect(looksPositional('where', '150.12345, -2.50000')).toBe(true);
    expect(looksPositional('where', '10:00:28.6 +02:12:21')).toBe(true);
    expect(looksPositional('note', 'a spiral with a bar')).toBe(false);
  });

  it('a position split across two innocently named columns is dropped when coordinates are stripped, and kept otherwise', () => {
    const extra = parseExtraMetadata({ columns: { x: 150.11917, y: '2.20583', votes: 12, score: 0.5 } });
    const image = { id: 'img', stamp_index: 0, ra: 150.11917, dec: 2.20583, strip_coordinates: true };
    const stripped = subjectMetadata({ collection: { id: 'c', name: 'u/alien/x' }, image, datasetIds: [], contentHash: 'h' }, extra);
    expect(stripped.dropped.sort()).toEqual(['x', 'y']);
    expect(stripped.metadata).toMatchObject({ votes: 12, score: 0.5 });
    expect(JSON.stringify(stripped.metadata)).not.toMatch(/150\.119|2\.205/);
    // One precise number alone is not a position.
    expect(subjectMetadata({ collection: { id: 'c', name: 'n' }, image, datasetIds: [], contentHash: 'h' }, parseExtraMetadata({ columns: { redshift: 0.12345, votes: 3 } })).dropped).toEqual([]);
    // With coordinates allowed, nothing is dropped.
    expect(subjectMetadata({ collection: { id: 'c', name: 'n' }, image: { ...image, strip_coordinates: false }, datasetIds: [], contentHash: 'h' }, extra).dropped).toEqual([]);
  });

  it('CSV: header, quoting of commas, quotes, newlines and edge spaces, empty cells', () => {
    const csv = manifestCsv([
      { external_id: 'a', locations: [{ 'image/png': 'https://x/a.png' }], metadata: { '#k': 'plain', note: 'x,y' } },
      { external_id: 'b', locations: [{ 'image/png': 'https://x/b.png' }], metadata: { '#k': 'say "hi"', other: ' padded ' } },
    ]);
    expect(csv).toBe(['external_id,location:1,metadata:#k,metadata:note,metadata:other', 'a,https://x/a.png,plain,"x,y",', 'b,https://x/b.png,"say ""hi""",," padded "', ''].join('\n'));
    expect(parseCsv(csv)[2]).toEqual(['b', 'https://x/b.png', 'say "hi"', '', ' padded ']);
  });
});

