import { createRepositories } from '../../src/db/repositories/index.js';
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
