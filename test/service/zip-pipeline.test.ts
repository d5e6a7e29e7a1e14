import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { RetrieveArtifactsSource } from '../../src/adapters/butler/prefix-source.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { convertGroup, pollCollection, retrieveArtifact, type PipelineDeps } from '../../src/domain/pipeline.js';
import { UnprocessableInputError } from '../../src/domain/group-conversion.js';
import { createLogger } from '../../src/app/logger.js';
import { encodePng } from '../../src/imaging/png/png-writer.js';
import { makeZip } from '../support/butler-server.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';
import { createRepositories } from '../../src/db/repositories/index.js';

/**
 * The third input shape through the pipeline: a ZIP of PNG renderings (the
 * Butler formatter of DMTN-207) becomes one quarantined image per PNG, with
 * no sky position, next to FITS collections' band groups.
 */
const RUN = 'u/alien/zoo-png';
const DT = 'zooniverse_cutout';

function colourPng(w: number, h: number, seed: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) & 0xff;
  return encodePng({ width: w, height: h, channels: 3, data }, { level: 6, maxBytes: 1e6 });
}

for (const kind of DB_KINDS) {
  describe(`ZIP-of-PNG artifacts on ${kind}`, () => {
    let t: TestDb;
    let dir: string;
    let d: PipelineDeps;
    beforeAll(async () => {
      t = await freshDatabase(kind);
      dir = await mkdtemp(join(tmpdir(), 'zip-pipeline-'));
      const store = new FsObjectStore({ root: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1:1' });
      d = { repos: createRepositories(t.db), store, sources: (c) => new RetrieveArtifactsSource({ root: c.source_root! }), convertThreads: 1, log: createLogger('silent') };
    });
    afterAll(async () => {
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('each PNG becomes a quarantined image; a damaged entry is a failed stamp; an archive without images fails with its reason', async () => {
      const tree = join(dir, 'artifacts', RUN, DT, '9900', '42');
      await mkdir(tree, { recursive: true });
      const pngs = [colourPng(40, 30, 1), colourPng(32, 32, 2), colourPng(20, 50, 3)];
      await writeFile(
        join(tree, `${DT}_9900_42_renderings.zip`),
        makeZip([
          { name: 'cutout_1.png', data: pngs[0], deflate: true },
          { name: 'cutout_2.png', data: pngs[1] },
          { name: 'cutout_10.png', data: pngs[2], deflate: true },
          { name: 'README.txt', data: new TextEncoder().encode('made by the PI notebook') },
        ]),
      );
      const empty = join(dir, 'artifacts', RUN, DT, '9901', '42');
      await mkdir(empty, { recursive: true });
      await writeFile(join(empty, `${DT}_9901_42_renderings.zip`), makeZip([{ name: 'notes.txt', data: new TextEncoder().encode('nothing here') }]));

      const c = await createCollection(t.db, { owner: 'alien', repository: 'local', name: RUN, sourceKind: 'prefix', sourceRoot: join(dir, 'artifacts'), datasetType: DT, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      const { newArtifactIds } = await pollCollection(d, c.id);
      expect(newArtifactIds).toHaveLength(2);
      const groups: string[] = [];
      for (const id of newArtifactIds) {
        const r = await retrieveArtifact(d, id);
        expect(r.readyGroup).toBeDefined();
        groups.push(r.readyGroup!.groupKey);
      }

      const results = await Promise.allSettled(groups.map((g) => convertGroup(d, c.id, g)));
      const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ images: number }>).value);
      const bad = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Error);
      expect(ok).toEqual([{ images: 3, failedStamps: 0 }]);
      expect(bad).toHaveLength(1);
      expect(bad[0]).toBeInstanceOf(UnprocessableInputError);
      expect(bad[0].message).toMatch(/no PNG or JPEG images/);

      const images = await t.db.selectFrom('images').selectAll().where('collection_id', '=', c.id).orderBy('stamp_index').execute();
      expect(images.map((i) => [i.stamp_index, i.width, i.height, i.wcs_quality, i.ra])).toEqual([
        [0, 40, 30, 'none', null],
        [1, 32, 32, 'none', null],
        [2, 20, 50, 'none', null],
      ]);
      // The stored object is the same picture, with provenance added.
      const stored = await d.store.get('quarantine', images[2].quarantine_key);
      expect(stored.contentType).toBe('image/png');
      const decoded = pngjs.PNG.sync.read(Buffer.from(stored.body));
      const original = pngjs.PNG.sync.read(Buffer.from(pngs[2]));
      expect(Buffer.compare(decoded.data, original.data)).toBe(0);

      // Each image names the archive it came out of.
      const archive = await t.db.selectFrom('artifacts').select(['id', 'dataset_id']).where('collection_id', '=', c.id).where('state', '=', 'converted').executeTakeFirstOrThrow();
      const links = await t.db.selectFrom('image_datasets').selectAll().where('image_id', 'in', images.map((i) => i.id)).execute();
      expect(links.map((l) => [l.artifact_id, l.dataset_id, l.position])).toEqual(images.map(() => [archive.id, archive.dataset_id, 1]));

      const arts = await t.db.selectFrom('artifacts').select(['state', 'error']).where('collection_id', '=', c.id).orderBy('state').execute();
      expect(arts.map((a) => a.state)).toEqual(['converted', 'failed']);
      expect(arts[1].error).toMatch(/no PNG or JPEG images \(1 entry skipped\)/);

      // Converting again adds nothing.
      for (const g of groups) await convertGroup(d, c.id, g).catch(() => undefined);
      const again = await t.db.selectFrom('images').select('id').where('collection_id', '=', c.id).execute();
      expect(again).toHaveLength(3);
    });
  });
}
