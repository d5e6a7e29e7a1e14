import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { groupKeyOf } from '../../src/db/repositories/artifacts.js';
import { pollCollection, type PipelineDeps } from '../../src/domain/pipeline.js';
import { POLL_CHUNK } from '../../src/domain/poll.js';
import type { ButlerSource, DatasetRef } from '../../src/domain/ports/butler-source.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';
import { createLogger } from '../../src/app/logger.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/**
 * A poll records its datasets in bulk (chunks of POLL_CHUNK, one statement
 * each): every dataset becomes exactly one artifact with one `discovered`
 * transition, in the poll's review batch; polling again records nothing
 * twice; a poll that stops half-way keeps what it committed and the next
 * poll records only the rest.
 */
const RUN = 'u/alien/bulk';
const N = POLL_CHUNK * 2 + 37;

function datasets(from: number, count: number): DatasetRef[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    // Values that array literals must escape (quotes, commas, braces, backslashes), and datasets with no band.
    const dataId: Record<string, string | number> = i % 7 === 0 ? { tract: i, note: `a "b", {c} \\d é` } : { tract: Math.floor(i / 3), patch: 7, band: 'gri'[i % 3] };
    return { id: `ds-${String(i).padStart(6, '0')}`, run: RUN, datasetType: 'zooniverse_cutout', dataId, cursor: `c-${String(i).padStart(6, '0')}` };
  });
}

/** The Butler as the port sees it: whatever the current listing is, ignoring the cursor (a full re-listing is the hardest case). */
function source(listing: () => DatasetRef[], failAfter?: number): ButlerSource {
  return {
    async *listDatasets() {
      let n = 0;
      for (const r of listing()) {
        if (failAfter !== undefined && n++ === failAfter) throw new Error('the Butler went away mid-listing');
        yield r;
      }
    },
    async fetchArtifact() {
      throw new Error('not used');
    },
  };
}

for (const kind of DB_KINDS) {
  describe(`bulk poll on ${kind}`, () => {
    let t: TestDb;
    let deps: (listing: () => DatasetRef[], failAfter?: number) => PipelineDeps;
    let collectionId: string;
    const counts = async () => {
      const r = await sql<{ artifacts: number; distinct_ids: number; transitions: number; artifacts_logged: number; batches: number; unbatched: number }>`
        select (select count(*)::int from artifacts where collection_id = ${collectionId}) as artifacts,
               (select count(distinct dataset_id)::int from artifacts where collection_id = ${collectionId}) as distinct_ids,
               (select count(*)::int from transitions t join artifacts a on a.id = t.entity_id where t.entity = 'artifact' and a.collection_id = ${collectionId}) as transitions,
               (select count(distinct t.entity_id)::int from transitions t join artifacts a on a.id = t.entity_id where t.entity = 'artifact' and a.collection_id = ${collectionId} and t.from_state is null and t.to_state = 'discovered' and t.actor = 'poller') as artifacts_logged,
               (select count(*)::int from batches where collection_id = ${collectionId}) as batches,
               (select count(*)::int from artifacts where collection_id = ${collectionId} and batch_id is null) as unbatched`.execute(t.db);
      return r.rows[0];
    };

    beforeAll(async () => {
      t = await freshDatabase(kind);
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: RUN, sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      collectionId = c.id;
      deps = (listing, failAfter) => ({ repos: createRepositories(t.db), store: {} as ObjectStore, sources: () => source(listing, failAfter), convertThreads: 1, log: createLogger('silent') }) as PipelineDeps;
    });
    afterAll(async () => {
      await t?.close();
    });

    it('a poll that stops half-way keeps its committed chunks and their cursor; the next records only the rest, each dataset once', async () => {
      const all = datasets(0, N);
      await expect(pollCollection(deps(() => all, POLL_CHUNK + 10), collectionId)).rejects.toThrow(/went away/);
      const c = await t.db.selectFrom('collections').select(['cursor', 'last_poll_error']).where('id', '=', collectionId).executeTakeFirstOrThrow();
      expect(c.last_poll_error).toMatch(/went away/);
      expect(c.cursor).toBe(all[POLL_CHUNK - 1].cursor);
      expect(await counts()).toEqual({ artifacts: POLL_CHUNK, distinct_ids: POLL_CHUNK, transitions: POLL_CHUNK, artifacts_logged: POLL_CHUNK, batches: 1, unbatched: 0 });

      const { newArtifactIds } = await pollCollection(deps(() => all), collectionId);
      expect(newArtifactIds).toHaveLength(N - POLL_CHUNK);
      expect(new Set(newArtifactIds).size).toBe(N - POLL_CHUNK);
      expect(await counts()).toEqual({ artifacts: N, distinct_ids: N, transitions: N, artifacts_logged: N, batches: 2, unbatched: 0 });
      const after = await t.db.selectFrom('collections').select(['cursor', 'last_poll_error']).where('id', '=', collectionId).executeTakeFirstOrThrow();
      expect(after).toEqual({ cursor: all[N - 1].cursor, last_poll_error: null });
    });

    it('records each dataset as the row-by-row insert did: dataId, band, group key, cursor, state', async () => {
      const want = new Map(datasets(0, N).map((r) => [r.id, r]));
      const rows = await t.db.selectFrom('artifacts').select(['dataset_id', 'dataset_type', 'run', 'data_id', 'band', 'group_key', 'cursor', 'state', 'path', 'object_key']).where('collection_id', '=', collectionId).execute();
      expect(rows).toHaveLength(N);
      for (const row of rows) {
        const r = want.get(row.dataset_id)!;
        expect(row).toEqual({ dataset_id: r.id, dataset_type: 'zooniverse_cutout', run: RUN, data_id: r.dataId, band: typeof r.dataId.band === 'string' ? r.dataId.band : null, group_key: groupKeyOf(r.dataId), cursor: r.cursor, state: 'discovered', path: null, object_key: null });
      }
    });

    it('polling the same listing again records nothing and makes no batch', async () => {
      const all = datasets(0, N);
      const { newArtifactIds } = await pollCollection(deps(() => all), collectionId);
      expect(newArtifactIds).toEqual([]);
      expect(await counts()).toEqual({ artifacts: N, distinct_ids: N, transitions: N, artifacts_logged: N, batches: 2, unbatched: 0 });
    });

    it('a chunk that fails while the next is being written: neither the next chunk nor the cursor passes it', async () => {
      const c = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: `${RUN}/second`, sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      const all = datasets(500_000, POLL_CHUNK * 3).map((r) => ({ ...r, run: `${RUN}/second` }));
      const repos = createRepositories(t.db);
      // The database refuses the second chunk (its first dataset), after the third has started.
      const failing: Repositories = {
        ...repos,
        transaction: (fn) =>
          repos.transaction((tx) =>
            fn({
              ...tx,
              artifacts: {
                ...tx.artifacts,
                async recordDiscovered(collection, refs, who, batchId) {
                  if (refs[0].id === all[POLL_CHUNK].id) {
                    await new Promise((r) => setTimeout(r, 200));
                    throw new Error('the database refused the second chunk');
                  }
                  return tx.artifacts.recordDiscovered(collection, refs, who, batchId);
                },
              },
            }),
          ),
      };
      const d = { ...deps(() => all), repos: failing } as PipelineDeps;
      await expect(pollCollection(d, c.id)).rejects.toThrow(/refused the second chunk/);
      const stored = await t.db.selectFrom('artifacts').select('dataset_id').where('collection_id', '=', c.id).orderBy('dataset_id').execute();
      expect(stored.map((r) => r.dataset_id)).toEqual(all.slice(0, POLL_CHUNK).map((r) => r.id));
      const after = await t.db.selectFrom('collections').select(['cursor', 'last_poll_error']).where('id', '=', c.id).executeTakeFirstOrThrow();
      expect(after.cursor).toBe(all[POLL_CHUNK - 1].cursor);
      expect(after.last_poll_error).toMatch(/refused the second chunk/);
    });

    it('a first poll (no artifact yet, so no read of the known ones) that lists a dataset in two chunks records it once', async () => {
      const other = await createCollection(t.db, { owner: 'alien', repository: 'dp1', name: `${RUN}-first`, sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      const all = datasets(0, POLL_CHUNK + 10).map((d) => ({ ...d, run: other.name }));
      // Dataset 3 again at the end: it falls in the second chunk, after the first committed it.
      const listing = [...all, all[3]];
      const { newArtifactIds } = await pollCollection(deps(() => listing), other.id);
      expect(newArtifactIds).toHaveLength(all.length);
      const r = await sql<{ n: number; ids: number; logged: number }>`select count(*)::int as n, count(distinct dataset_id)::int as ids,
          (select count(*)::int from transitions t join artifacts a on a.id = t.entity_id where a.collection_id = ${other.id}) as logged
          from artifacts where collection_id = ${other.id}`.execute(t.db);
      expect(r.rows[0]).toEqual({ n: all.length, ids: all.length, logged: all.length });
    });

    it('a listing of known and new datasets (one listed twice) adds only the new ones, once each, in a batch of their own', async () => {
      const fresh = datasets(N, 120);
      const listing = [...datasets(100, 3000), fresh[0], ...fresh, ...datasets(N - 50, 50)];
      const { newArtifactIds } = await pollCollection(deps(() => listing), collectionId);
      expect(newArtifactIds).toHaveLength(120);
      expect(await counts()).toEqual({ artifacts: N + 120, distinct_ids: N + 120, transitions: N + 120, artifacts_logged: N + 120, batches: 3, unbatched: 0 });
      const newest = await t.db.selectFrom('batches').select('id').where('collection_id', '=', collectionId).orderBy('seq', 'desc').executeTakeFirstOrThrow();
      const inIt = await t.db.selectFrom('artifacts').select('dataset_id').where('batch_id', '=', newest.id).orderBy('dataset_id').execute();
      expect(inIt.map((r) => r.dataset_id)).toEqual(fresh.map((r) => r.id));
      const ids = await t.db.selectFrom('artifacts').select('id').where('batch_id', '=', newest.id).execute();
      expect(new Set(newArtifactIds)).toEqual(new Set(ids.map((r) => r.id)));
    });
  });
}
