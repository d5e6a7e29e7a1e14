import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { RetrieveArtifactsSource } from '../../src/adapters/butler/prefix-source.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { convertGroup, pollCollection, retrieveArtifact, type PipelineDeps } from '../../src/domain/pipeline.js';
import { ConvertPool } from '../../src/imaging/convert-pool.js';
import { createLogger } from '../../src/app/logger.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/**
 * The convert job on the process's one pool: groups converted at the same
 * time (CONVERT_CONCURRENCY > 1) share its threads, which are the same
 * threads from one group to the next, and each group's images are recorded
 * whole.
 */
for (const kind of DB_KINDS) {
  describe(`convert jobs sharing the conversion pool on ${kind}`, () => {
    let t: TestDb;
    let dir: string;
    const pool = new ConvertPool({ threads: 2 });
    beforeAll(async () => {
      t = await freshDatabase(kind);
      dir = await mkdtemp(join(tmpdir(), 'convert-pool-'));
    });
    afterAll(async () => {
      await pool.close();
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('three groups, two at once then one: every stamp recorded, on the same two threads throughout', async () => {
      const run = 'u/alien/pool';
      const root = join(dir, 'artifacts');
      await writeDemoArtifacts(root, { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [1, 2, 3], stampsPerFile: 6, size: 32 });
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: run, sourceKind: 'prefix', sourceRoot: root, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      const store = new FsObjectStore({ root: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1:1' });
      // convertThreads 0 would convert in the job's own thread: only the pool can be doing the work here.
      const d: PipelineDeps = { repos: createRepositories(t.db), store, sources: (col) => new RetrieveArtifactsSource({ root: col.source_root! }), convertThreads: 0, convertPool: pool, log: createLogger('silent') };
      const { newArtifactIds } = await pollCollection(d, c.id);
      const groups = new Set<string>();
      for (const id of newArtifactIds) {
        const g = (await retrieveArtifact(d, id)).readyGroup?.groupKey;
        if (g) groups.add(g);
      }
      const [g1, g2, g3] = [...groups];
      expect(groups.size).toBe(3);

      expect(await Promise.all([convertGroup(d, c.id, g1), convertGroup(d, c.id, g2)])).toEqual([
        { images: 6, failedStamps: 0 },
        { images: 6, failedStamps: 0 },
      ]);
      const threads = pool.threadIds();
      expect(threads).toHaveLength(2);
      expect(await convertGroup(d, c.id, g3)).toEqual({ images: 6, failedStamps: 0 });
      expect(pool.threadIds()).toEqual(threads);

      const images = await t.db.selectFrom('images').select(['group_key', 'stamp_index', 'quarantine_key']).where('collection_id', '=', c.id).execute();
      for (const g of [g1, g2, g3]) expect(images.filter((i) => i.group_key === g).map((i) => i.stamp_index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      for (const img of images) expect((await store.get('quarantine', img.quarantine_key)).contentType).toBe('image/png');
      expect(pool.stats()).toEqual({ waiting: 0, running: 0, threads: 2 });
    });
  });
}
