import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { RetrieveArtifactsSource } from '../../src/adapters/butler/prefix-source.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { convertGroup, pollCollection, retrieveArtifact, type PipelineDeps } from '../../src/domain/pipeline.js';
import { UnprocessableInputError } from '../../src/domain/group-conversion.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import { createLogger } from '../../src/app/logger.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/**
 * A band group converted on worker threads straight from the object store:
 * images, frames and the datasets each image was made from are recorded
 * together, and a store that fails mid-way fails the job (to be retried),
 * never the artifacts.
 */
for (const kind of DB_KINDS) {
  describe(`converting a band group on ${kind}`, () => {
    let t: TestDb;
    let dir: string;
    let store: FsObjectStore;
    beforeAll(async () => {
      t = await freshDatabase(kind);
      dir = await mkdtemp(join(tmpdir(), 'convert-group-'));
      store = new FsObjectStore({ root: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1:1' });
    });
    afterAll(async () => {
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('records images, frames and dataset links; a failing store leaves the artifacts to retry', async () => {
      const run = 'u/alien/threads';
      const root = join(dir, 'artifacts');
      await writeDemoArtifacts(root, { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: 4, size: 32 });
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: run, sourceKind: 'prefix', sourceRoot: root, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      await t.db.updateTable('collections').set({ subject_frames: true }).where('id', '=', c.id).execute();
      const repos = createRepositories(t.db);
      const deps = (s: ObjectStore): PipelineDeps => ({ repos, store: s, sources: (col) => new RetrieveArtifactsSource({ root: col.source_root! }), convertThreads: 2, log: createLogger('silent') });
      const d = deps(store);
      const { newArtifactIds } = await pollCollection(d, c.id);
      let group: string | undefined;
      for (const id of newArtifactIds) group = (await retrieveArtifact(d, id)).readyGroup?.groupKey ?? group;

      // The store refuses image writes after a few: the conversion stops with the store's error.
      let puts = 0;
      const flaky = Object.create(store) as ObjectStore;
      flaky.put = async (area, key, body, opts) => {
        if (key.startsWith('images/') && ++puts > 3) throw new Error('quarantine bucket unavailable');
        return store.put(area, key, body, opts);
      };
      const failed = await convertGroup(deps(flaky), c.id, group!).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failed?.message).toBe('quarantine bucket unavailable');
      expect(failed).not.toBeInstanceOf(UnprocessableInputError);
      const states = await t.db.selectFrom('artifacts').select('state').where('collection_id', '=', c.id).execute();
      expect(states.map((s) => s.state)).toEqual(['retrieved', 'retrieved', 'retrieved']);
      expect(await t.db.selectFrom('images').select('id').where('collection_id', '=', c.id).execute()).toEqual([]);

      // The retry, with the store back.
      expect(await convertGroup(d, c.id, group!)).toEqual({ images: 4, failedStamps: 0 });
      const images = await t.db.selectFrom('images').selectAll().where('collection_id', '=', c.id).orderBy('stamp_index').execute();
      expect(images.map((i) => i.stamp_index)).toEqual([0, 1, 2, 3]);
      for (const img of images) expect((await store.get('quarantine', img.quarantine_key)).contentType).toBe('image/png');
      const frames = await repos.images.framesByImage(images.map((i) => i.id));
      expect(frames.get(images[0].id)!.map((f) => f.band)).toEqual(['i', 'r', 'g']);

      const arts = await t.db.selectFrom('artifacts').select(['id', 'dataset_id', 'band', 'state']).where('collection_id', '=', c.id).execute();
      expect(arts.every((a) => a.state === 'converted')).toBe(true);
      const byBand = new Map(arts.map((a) => [a.band, a]));
      const links = await t.db.selectFrom('image_datasets').selectAll().where('image_id', '=', images[2].id).orderBy('position').execute();
      expect(links.map((l) => [l.position, l.band, l.dataset_id, l.artifact_id])).toEqual(['i', 'r', 'g'].map((b, k) => [k + 1, b, byBand.get(b)!.dataset_id, byBand.get(b)!.id]));
      // Subjects list them by band, as they always have.
      const ids = await repos.images.datasetIds(images.map((i) => i.id));
      expect(ids.get(images[0].id)).toEqual(['g', 'i', 'r'].map((b) => byBand.get(b)!.dataset_id));
      expect(ids.size).toBe(4);

      // Converting again adds nothing.
      expect(await convertGroup(d, c.id, group!)).toEqual({ images: 0, failedStamps: 0 });
      expect(await t.db.selectFrom('image_datasets').select('image_id').execute()).toHaveLength(12);
    });
  });
}
