import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSZip from 'jszip';
import pngjs from 'pngjs';
import { exportCommand, resolveCollection } from '../../src/cli/export-command.js';
import { cliContext } from '../../src/cli/context.js';
import { exportCollection } from '../../src/domain/export.js';
import { publishImage } from '../../src/domain/publish.js';
import { readXmp } from '../../src/imaging/png/png-chunks.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import { DB_KINDS } from '../support/databases.js';
import { artifacts, collection, csvObjects, parseCsv, seedImages, publishSetting } from './helpers.js';
import { createRepositories } from '../../src/db/repositories/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const pixels = (b: Uint8Array) => Buffer.from(pngjs.PNG.sync.read(Buffer.from(b)).data);

for (const kind of DB_KINDS) {
  describe(`bridge export on ${kind}`, () => {
    const env = publishSetting(kind);

    it('zips the approved and published images, stripped per the policy, with a Project Builder manifest', async () => {
      const c = await collection(env.t.db, { extra: { columns: { survey: 'Rubin, DP1' }, objects: { '2': { ml_score: 0.5 } } } });
      const datasetIds = await artifacts(env.t.db, c);
      const [stripped, open, published, waiting] = await seedImages(env.t.db, env.fs.store, c, [
        { png: env.stamps[6].png, stampIndex: 0, strip: true },
        { png: env.stamps[7].png, stampIndex: 1, strip: false, ra: 10.5, dec: 41.25 },
        { png: env.stamps[8].png, stampIndex: 2, strip: true },
        { png: env.stamps[9].png, stampIndex: 3, state: 'quarantined' },
      ]);
      const pub = await publishImage({ repos: createRepositories(env.t.db), store: env.fs.store }, published.id);
      const out = join(env.fs.dir, 'exports', 'collection.zip');
      const progress: number[] = [];
      // The zip is streamed: one image read at a time, whatever the collection's size.
      let reading = 0;
      let most = 0;
      const store = Object.create(env.fs.store) as ObjectStore;
      store.get = async (...a) => {
        most = Math.max(most, ++reading);
        try {
          return await env.fs.store.get(...a);
        } finally {
          reading--;
        }
      };
      const r = await exportCollection({ repos: createRepositories(env.t.db), store }, c.id, out, { onProgress: (done) => progress.push(done) });
      expect(most).toBe(1);
      expect(r).toEqual({ path: out, images: 3, stripped: 2 });
      expect(progress).toEqual([1, 2, 3]);
      expect((await readdir(join(env.fs.dir, 'exports'))).sort()).toEqual(['collection.zip']);

      const zip = await JSZip.loadAsync(await readFile(out));
      const names = Object.keys(zip.files).sort();
      expect(names).toEqual([`${open.id}.png`, `${published.id}.png`, `${stripped.id}.png`, 'manifest.csv'].sort());
      expect(names).not.toContain(`${waiting.id}.png`);
      const file = async (n: string) => new Uint8Array(await zip.file(n)!.async('uint8array'));

      const csv = await zip.file('manifest.csv')!.async('string');
      const [header] = parseCsv(csv);
      expect(header).toEqual(['image_name_1', '#collection', '#collection_id', '#dataset_ids', '#stamp_index', '#bridge_image_id', '#content_hash', '!ra', '!dec', '!Legacy Survey', '!SIMBAD', 'survey', 'ml_score']);
      const rows = csvObjects(csv);
      expect(rows.map((x) => x.image_name_1)).toEqual([`${stripped.id}.png`, `${open.id}.png`, `${published.id}.png`]);
      for (const row of rows) {
        const bytes = await file(row.image_name_1);
        expect(row['#content_hash']).toBe(sha(bytes));
        expect(row['#bridge_image_id']).toBe(row.image_name_1.replace(/\.png$/, ''));
        expect(row).toMatchObject({ '#collection': c.name, '#collection_id': c.id, '#dataset_ids': datasetIds.join(','), survey: 'Rubin, DP1' });
      }
      expect(rows[2].ml_score).toBe('0.5');

      const s = await file(`${stripped.id}.png`);
      expect(readXmp(s)).toBeNull();
      expect(pixels(s).equals(pixels(env.stamps[6].png))).toBe(true);
      expect(rows[0]['!ra']).toBe('');
      const o = await file(`${open.id}.png`);
      expect(Buffer.from(o).equals(Buffer.from(env.stamps[7].png))).toBe(true);
      expect(readXmp(o)).toMatch(/Spatial/);
      expect(rows[1]).toMatchObject({ '!ra': '10.500000', '!dec': '41.250000' });
      // A published image goes out exactly as published.
      expect(Buffer.from(await file(`${published.id}.png`)).equals(Buffer.from((await env.fs.store.get('public', pub.publicKey)).body))).toBe(true);
      // Exporting publishes nothing.
      const states = await env.t.db.selectFrom('images').select(['id', 'state']).where('collection_id', '=', c.id).orderBy('stamp_index').execute();
      expect(states.map((x) => x.state)).toEqual(['approved', 'approved', 'published', 'quarantined']);
    });

    it('refuses a collection with nothing approved, and leaves no partial file when an image is missing', async () => {
      const c = await collection(env.t.db);
      await expect(exportCollection({ repos: createRepositories(env.t.db), store: env.fs.store }, c.id, join(env.fs.dir, 'none.zip'))).rejects.toThrow(/no approved images/);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[10].png, stampIndex: 0 }]);
      await env.fs.store.delete('quarantine', img.quarantine_key);
      const dir = join(env.fs.dir, 'broken');
      await expect(exportCollection({ repos: createRepositories(env.t.db), store: env.fs.store }, c.id, join(dir, 'x.zip'))).rejects.toThrow(/not found|missing/);
      expect(await readdir(dir)).toEqual([]);
    });

    it('finds a collection by id or by name', async () => {
      const c = await collection(env.t.db);
      expect((await resolveCollection(createRepositories(env.t.db), c.id)).id).toBe(c.id);
      expect((await resolveCollection(createRepositories(env.t.db), c.name)).id).toBe(c.id);
      await expect(resolveCollection(createRepositories(env.t.db), 'u/nobody/none')).rejects.toThrow(/no collection/);
    });
  });
}

describe('bridge export command', () => {
  it('takes --collection and --out', () => {
    const cmd = exportCommand(cliContext());
    expect(cmd.name()).toBe('export');
    const flags = cmd.options.map((o) => o.long);
    expect(flags).toEqual(['--collection', '--out']);
    expect(cmd.options.every((o) => o.required || o.mandatory)).toBe(true);
  });
});
