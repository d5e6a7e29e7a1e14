import { join } from 'node:path';
import type { Logger as Pino } from 'pino';
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { Lock } from '../domain/ports/lock.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import type { PanoptesClient } from '../domain/ports/panoptes-client.js';
import type { JobQueue } from '../domain/ports/job-queue.js';

/**
 * What the commands of one `bridge` run share: the configuration, the
 * database, the object store, the Zooniverse client and the logger, each
 * built once and only when a command first asks for it. So `bridge convert`
 * and `inspect` neither need a valid environment nor load the service stack
 * (hence the dynamic imports, the configuration's schema included: zod
 * alone is ~100 modules that `bridge --help` has no use for), and `purge`
 * only reaches the store with --yes. main.ts closes whatever was opened,
 * after the command.
 *
 * `serve` and `demo` build full Services instead (src/app/service.ts): they
 * are long-running processes with their own composition roots.
 */
export interface CliContext {
  config(): Promise<Config>;
  db(): Promise<Db>;
  /** The domain's repositories on that database. */
  repos(): Promise<Repositories>;
  /** The upload lock on that database (a purge retracts batches an upload may hold). */
  lock(): Promise<Lock>;
  store(): Promise<ObjectStore>;
  /** Absent without Zooniverse credentials. */
  panoptes(): Promise<PanoptesClient | undefined>;
  /**
   * The deployment's job queues (REDIS_URL, with the database's queue
   * prefix); undefined without REDIS_URL, when only the database can record
   * the work and a running service's sweep picks it up.
   */
  queues(): Promise<JobQueue | undefined>;
  log(): Promise<Pino>;
  /** Closes what was opened, newest first; safe to call when nothing was. */
  close(): Promise<void>;
}

export function cliContext(env: Record<string, string | undefined> = process.env): CliContext {
  const cleanups: (() => Promise<void> | void)[] = [];
  const once = <T>(build: () => T): (() => T) => {
    let built: { value: T } | undefined;
    return () => (built ??= { value: build() }).value;
  };
  const config = once(async () => (await import('../config/config.js')).loadConfig(env));
  const db = once(async () => {
    const { openDatabase } = await import('../db/database.js');
    const c = await config();
    const opened = await openDatabase({ url: c.DATABASE_URL, dataDir: join(c.DATA_DIR, 'pglite') });
    cleanups.push(() => opened.destroy());
    return opened;
  });
  const repos = once(async () => (await import('../db/repositories/index.js')).createRepositories(await db()));
  const lock = once(async () => (await import('../db/locks.js')).databaseLock(await db()));
  const store = once(async () => {
    const { buildStore } = await import('../app/store.js');
    const built = await buildStore(await config());
    cleanups.push(() => built.close());
    return built.store;
  });
  const panoptes = once(async () => (await import('../app/store.js')).buildPanoptes(await config()));
  const log = once(async () => (await import('../app/logger.js')).createLogger((await config()).LOG_LEVEL));
  const queues = once(async () => {
    const c = await config();
    if (!c.REDIS_URL) return undefined;
    const { BullMqJobQueue } = await import('../adapters/queue/bullmq-queue.js');
    const { bullmqConnection } = await import('../adapters/queue/redis-connection.js');
    const { deploymentQueuePrefix } = await import('../db/deployment.js');
    const q = new BullMqJobQueue(bullmqConnection(c.REDIS_URL), c.QUEUE_PREFIX ?? (await deploymentQueuePrefix(await db())));
    cleanups.push(() => q.close());
    return q;
  });
  return {
    config,
    db,
    repos,
    lock,
    store,
    panoptes,
    log,
    queues,
    async close() {
      // Everything gets its chance to close; the first failure is reported.
      const failures: unknown[] = [];
      for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => failures.push(e));
      if (failures.length) throw failures[0];
    },
  };
}
