import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { PanoptesServerDouble, type PanoptesDoubleOptions } from './panoptes-server.js';
import { freshDatabase, type TestDb } from './databases.js';
import { databaseLock } from '../../src/db/locks.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { Lock } from '../../src/domain/ports/lock.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';
import { startPublicStore, type PublicStore } from './upload-fixtures.js';

/* Kept apart from upload-fixtures.ts: that file is also loaded by child processes outside vitest. */

type DbKind = 'pglite' | 'postgres';

export interface UploadSetting {
  /** A fresh database for the describe block. */
  readonly t: TestDb;
  /** The block's repositories and upload lock, built once on its database as a composition root would. */
  readonly repos: Repositories;
  readonly lock: Lock;
  /** The public store the manifests and images are served from. */
  readonly pub: PublicStore;
  /** A new Panoptes double for every test. */
  readonly server: PanoptesServerDouble;
  /** Replaces this test's double with one started with `opts`. */
  restart(opts: PanoptesDoubleOptions): Promise<void>;
}

/**
 * The usual setting of an upload test, registered on the enclosing describe:
 * a database of `kind` and a public store for the block, a Panoptes double
 * per test. Read its fields inside hooks and tests (they are set by then).
 */
export function uploadSetting(kind: DbKind): UploadSetting {
  const s = {} as { t: TestDb; repos: Repositories; lock: Lock; pub: PublicStore; server: PanoptesServerDouble };
  beforeAll(async () => {
    s.t = await freshDatabase(kind);
    s.repos = createRepositories(s.t.db);
    s.lock = databaseLock(s.t.db);
    s.pub = await startPublicStore();
  });
  afterAll(async () => {
    await s.pub?.close();
    await s.t?.close();
  });
  beforeEach(async () => {
    s.server = await PanoptesServerDouble.start();
  });
  afterEach(async () => {
    await s.server?.close();
  });
  return {
    get t() {
      return s.t;
    },
    get repos() {
      return s.repos;
    },
    get lock() {
      return s.lock;
    },
    get pub() {
      return s.pub;
    },
    get server() {
      return s.server;
    },
    async restart(opts) {
      await s.server.close();
      s.server = await PanoptesServerDouble.start(opts);
    },
  };
}
