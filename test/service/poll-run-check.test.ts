import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { pollCollection, type PipelineDeps } from '../../src/domain/pipeline.js';
import type { ButlerSource, DatasetRef } from '../../src/domain/ports/butler-source.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import { createLogger } from '../../src/app/logger.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/**
 * A PI registers u/alien/x, but a chained collection of that name can reach
 * other runs (someone else's, or a proprietary one). Only the registered run
 * and runs below it are taken; the rest are refused by name, and the poll
 * goes on with what is the PI's.
 */
const ref = (id: string, run: string, band: string): DatasetRef => ({ id, run, datasetType: 'zooniverse_cutout', dataId: { tract: 1, patch: 2, band }, cursor: `2026-12-04T00:00:0${id.slice(-1)}Z` });

/** The Butler as the port sees it: a listing of whatever the collection resolves to. */
function source(refs: DatasetRef[]): ButlerSource {
  return {
    async *listDatasets() {
      yield* refs;
    },
    async fetchArtifact() {
      throw new Error('not used');
    },
  };
}

for (const kind of DB_KINDS) {
  describe(`poll on ${kind}: datasets outside the registered run`, () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await freshDatabase(kind);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('are refused with the dataset and run named; the PI’s own and sub-runs are taken', async () => {
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: 'u/alien/x', sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['r'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      const listing = [ref('d-1', 'u/alien/x', 'r'), ref('d-2', 'u/alien/x/2026-12', 'g'), ref('d-3', 'u/bob/secret', 'i'), ref('d-4', 'u/alien/xyz', 'z')];
      const d = { repos: createRepositories(t.db), store: {} as ObjectStore, sources: () => source(listing), convertThreads: 1, log: createLogger('silent') } as PipelineDeps;
      const { newArtifactIds } = await pollCollection(d, c.id);
      expect(newArtifactIds).toHaveLength(2);
      const rows = await t.db.selectFrom('artifacts').select(['dataset_id', 'run']).where('collection_id', '=', c.id).orderBy('dataset_id').execute();
      expect(rows).toEqual([
        { dataset_id: 'd-1', run: 'u/alien/x' },
        { dataset_id: 'd-2', run: 'u/alien/x/2026-12' },
      ]);
      const after = await t.db.selectFrom('collections').select('last_poll_error').where('id', '=', c.id).executeTakeFirstOrThrow();
      expect(after.last_poll_error).toMatch(/refused 2 dataset\(s\) outside the registered run u\/alien\/x: d-3 \(run u\/bob\/secret\), d-4 \(run u\/alien\/xyz\)/);
    });
  });
}
