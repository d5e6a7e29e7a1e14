import { join } from 'node:path';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { Collection } from '../../src/domain/model.js';
import { seedResults, type SeededResults } from '../support/results-seed.js';
import { artifacts, collection, renderedStamps, seedImages, tempStore } from '../publish/helpers.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';
import type { RawClassification } from '../../src/results/types.js';
import { freshDatabase, type TestDb } from '../support/databases.js';
import { PanoptesServerDouble } from '../support/panoptes-server.js';
import type { SeedClassification } from '../support/panoptes-results-routes.js';
import { resultsAdapters } from '../support/results-adapters.js';
import { TASKS, WORKFLOW_ID, subjectIdOf } from '../support/classifications.js';
import { quietLog, seedUploadBatch, startPublicStore, type PublicStore } from '../support/upload-fixtures.js';

/**
 * The results service tests' world: a fresh database, the Panoptes double
 * with project 1 and the generator's workflow, and one collection whose n
 * images were uploaded as subjects subjectIdOf(0..n-1) (upload_items), as
 * the upload side leaves them.
 */
export interface ResultsWorld {
  t: TestDb;
  repos: Repositories;
  server: PanoptesServerDouble;
  adapters: ReturnType<typeof resultsAdapters>;
  store: PublicStore;
  collectionId: string;
  imageIds: string[];
  /** subject id -> image id */
  imageOf: Map<string, string>;
  close(): Promise<void>;
}

export async function resultsWorld(kind: 'pglite' | 'postgres', n: number, opts: { projectId?: string } = {}): Promise<ResultsWorld> {
  const projectId = opts.projectId ?? '1';
  const t = await freshDatabase(kind);
  const store = await startPublicStore();
  const server = await PanoptesServerDouble.start({ projects: [{ id: projectId, displayName: 'Rubin Test Project', slug: 'rubin/test' }], defaultPageSize: 20 });
  server.results.addWorkflow({ id: WORKFLOW_ID, projectId, tasks: TASKS as never, displayName: 'Mergers' });
  const seeded = await seedUploadBatch(t.db, store.store, { n, projectId });
  const imageOf = new Map<string, string>();
  for (const [i, imageId] of seeded.imageIds.entries()) {
    await t.db.updateTable('upload_items').set({ subject_id: subjectIdOf(i), state: 'linked' as never }).where('image_id', '=', imageId).execute();
    imageOf.set(subjectIdOf(i), imageId);
  }
  const adapters = resultsAdapters(server);
  return {
    t,
    repos: createRepositories(t.db),
    server,
    adapters,
    store,
    collectionId: seeded.collectionId,
    imageIds: seeded.imageIds,
    imageOf,
    close: async () => {
      await server.close();
      await store.close();
      await t.close();
    },
  };
}

/** A generated classification as the double stores it (the double gives it a new id). */
export function seedOf(c: RawClassification, userIp = '198.51.100.23'): SeedClassification {
  return {
    workflowId: c.workflowId,
    workflowVersion: c.workflowVersion,
    user: c.userId ? { id: c.userId, login: c.userName ?? `volunteer-${c.userId}` } : null,
    userIp,
    createdAt: c.createdAt,
    subjectIds: c.subjectIds,
    annotations: c.annotations,
    metadata: c.metadata,
    goldStandard: c.goldStandard,
  };
}

export const deps = (w: ResultsWorld) => ({ repos: w.repos, source: w.adapters.classifications, clock: { now: () => new Date() }, log: quietLog });

/**
 * A service database on disk (DATA_DIR/pglite) holding one collection with
 * `n` images and seeded results, for tests that run `bridge results ...` as
 * a process of its own. `inside` runs on the open database before it is
 * closed (the CLI needs it closed: one process at a time on PGlite).
 */
export async function resultsDataDir<T>(dir: string, n: number, inside: (db: Db, c: Collection, seeded: SeededResults) => Promise<T>): Promise<{ name: string; id: string; seeded: SeededResults; extra: T }> {
  const fs = await tempStore();
  const stamps = await renderedStamps();
  const db = await openDatabase({ dataDir: join(dir, 'pglite') });
  try {
    await migrateToLatest(db);
    const c = await collection(db);
    await artifacts(db, c);
    const images = await seedImages(db, fs.store, c, Array.from({ length: n }, (_, i) => ({ png: stamps[i].png, stampIndex: i })));
    const seeded = await seedResults(db, c.id, images.map((i) => i.id));
    return { name: c.name, id: c.id, seeded, extra: await inside(db, c, seeded) };
  } finally {
    await db.destroy();
    await fs.close();
  }
}
