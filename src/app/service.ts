import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_RELEASES, parseReleaseCatalogue, type ReleaseCatalogue } from '../domain/releases.js';
import { Redis } from 'ioredis';
import type { Logger as Pino } from 'pino';
import { maskConfig, maskUrl, type Config } from '../config/config.js';
import { createLogger } from './logger.js';
import { migrateToLatest, openDatabase, type Db } from '../db/database.js';
import type { ButlerSource } from '../domain/ports/butler-source.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import type { Collection } from '../db/schema.js';
import { createRepositories } from '../db/repositories/index.js';
import { databaseLock } from '../db/locks.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { Lock } from '../domain/ports/lock.js';
import { systemClock } from '../domain/ports/clock.js';
import { deploymentQueuePrefix } from '../db/deployment.js';
import { BullMqJobQueue } from '../adapters/queue/bullmq-queue.js';
import { redisDatabase, bullmqConnection } from '../adapters/queue/redis-connection.js';
import { startLocalRedis, type LocalRedis } from '../adapters/redis/redis-server.js';
import { evictionPolicyWarning } from '../adapters/redis/redis-check.js';
import { ButlerServerSource } from '../adapters/butler/butler-client.js';
import { RetrieveArtifactsSource } from '../adapters/butler/prefix-source.js';
import type { PipelineDeps } from '../domain/pipeline.js';
import type { ReviewDeps } from '../domain/review.js';
import type { PanoptesClient } from '../domain/ports/panoptes-client.js';
import { buildPanoptes, buildStore } from './store.js';
import { buildZooniverseEffects } from './zooniverse-effects.js';
import { buildClassificationSource } from './classification-source.js';
import type { ClassificationSource } from '../domain/ports/classification-source.js';
import { reduceSettingsFromRules } from '../domain/results-settings.js';
import type { CollectionReduceSettings } from '../domain/results-reduce.js';
import type { ZooniverseEffects } from '../domain/ports/zooniverse-effects.js';
import { loadPolicyFile, type Policy } from '../policies/policy-file.js';
import { SOFTWARE } from '../imaging/version.js';
import { ConvertPool } from '../imaging/convert-pool.js';
import { UpstreamRetryCounts } from '../adapters/redis/upstream-retry-counts.js';
import type { UpstreamRetryNotice } from '../adapters/http/retry.js';
import { packagePath } from '../package-root.js';

/** The policy shipped with the bridge. */
export const DEFAULT_POLICY_FILE = packagePath('policies', 'rubin-default.yaml');

/**
 * Everything a bridge process needs, built once from the configuration. The
 * api, worker and cli composition roots take what they use from here.
 */
export interface Services {
  config: Config;
  log: Pino;
  db: Db;
  /** The domain's view of the database, built once. */
  repos: Repositories;
  /** Keeps one upload run per batch, in this process and across workers. */
  lock: Lock;
  store: ObjectStore;
  redisUrl: string;
  /**
   * The BullMQ adapter itself, not just the JobQueue port: the worker role
   * consumes from its connection and the admin dashboard shows its queues.
   * Everything else is handed it as a JobQueue.
   */
  queues: BullMqJobQueue;
  sources: (c: Pick<Collection, 'source_kind' | 'source_root'>) => ButlerSource;
  pipeline: PipelineDeps;
  review: ReviewDeps;
  policy: Policy;
  /** Repository label -> data release: what registration derives a collection's release from. */
  releases: ReleaseCatalogue;
  /** Absent without Zooniverse credentials: batches then stop at their manifests (export still works). */
  panoptes?: PanoptesClient;
  /** The results rules' effects on Zooniverse (same credentials); absent without them. */
  zooniverseEffects?: ZooniverseEffects;
  /** Volunteers' classifications back from Zooniverse (pull and export); absent without credentials. */
  classificationSource?: ClassificationSource;
  /** A collection's reduce settings, from its stored results rules (null: the defaults). */
  reduceSettings: (collectionId: string) => Promise<CollectionReduceSettings | null>;
  checkRedis(): Promise<void>;
  /** Failed upstream attempts by upstream and class, counted in Redis by every process. */
  retryCounts: UpstreamRetryCounts;
  close(): Promise<void>;
}

export async function buildServices(config: Config, opts: { log?: Pino; migrate?: boolean } = {}): Promise<Services> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  log.info({ config: maskConfig(config) }, `${SOFTWARE} starting`);
  const cleanups: (() => Promise<void>)[] = [];
  // First, because a bad policy must stop the process before it touches anything.
  const policy = await loadPolicyFile(config.POLICY_FILE ?? DEFAULT_POLICY_FILE);
  log.info({ policy: `${policy.name}@${policy.version}`, file: policy.source.file, digest: policy.source.digest.slice(0, 12) }, 'data-rights policy loaded');
  const releases = config.RELEASES_FILE ? parseReleaseCatalogue(parseYaml(await readFile(config.RELEASES_FILE, 'utf8'))) : DEFAULT_RELEASES;
  try {
    const db = await openDatabase({ url: config.DATABASE_URL, dataDir: join(config.DATA_DIR, 'pglite'), onIdleError: (e) => log.warn({ err: e.message }, 'Postgres closed an idle connection; the pool will reconnect') });
    cleanups.push(() => db.destroy());
    // Embedded PGlite migrates itself; a shared Postgres is migrated by `bridge migrate`.
    if (opts.migrate ?? !config.DATABASE_URL) await migrateToLatest(db);

    let redisUrl = config.REDIS_URL;
    let local: LocalRedis | undefined;
    if (!redisUrl) {
      if (config.BRIDGE_MODE !== 'dev') throw new Error('REDIS_URL: required outside dev mode');
      local = await startLocalRedis();
      redisUrl = local.url;
      cleanups.push(() => local!.stop());
      log.info({ redis: redisUrl }, 'started a private redis-server (no persistence)');
    }
    const warning = await evictionPolicyWarning(redisUrl);
    if (warning) log.warn({}, warning);

    const built = await buildStore(config);
    const store = built.store;
    cleanups.push(async () => built.close());

    const prefix = config.QUEUE_PREFIX ?? (await deploymentQueuePrefix(db));
    const queues = new BullMqJobQueue(bullmqConnection(redisUrl), prefix);
    log.info({ redis: maskUrl(redisUrl), database: redisDatabase(new URL(redisUrl)), prefix }, 'job queues');
    cleanups.push(() => queues.close());

    // Every failed upstream attempt is logged (info while it is retried, warn when given up) and counted for /metrics.
    const retryCounts = new UpstreamRetryCounts(redisUrl, prefix);
    cleanups.push(() => retryCounts.close());
    const onRetry = (n: UpstreamRetryNotice) => {
      const gaveUp = n.waitMs === null;
      retryCounts.add(n.upstream, n.errorClass, gaveUp ? 'gave_up' : 'retried');
      const fields = { upstream: n.upstream, what: n.what, attempt: n.attempt, waitMs: n.waitMs, errorClass: n.errorClass, reason: n.reason };
      if (gaveUp) log.warn(fields, `${n.upstream} call failed, not retried in-process`);
      else log.info(fields, `${n.upstream} call failed, retrying in ${n.waitMs} ms`);
    };
    const butler = config.BUTLER_URL ? new ButlerServerSource({ baseUrl: config.BUTLER_URL, token: () => config.BUTLER_TOKEN ?? '', userAgent: SOFTWARE, maxAttempts: config.BUTLER_RETRY_ATTEMPTS, baseDelayMs: config.BUTLER_RETRY_BASE_MS, onRetry }) : undefined;
    const sources = (c: Pick<Collection, 'source_kind' | 'source_root'>): ButlerSource => {
      if (c.source_kind === 'prefix') return new RetrieveArtifactsSource({ root: c.source_root! });
      if (!butler) throw new Error('BUTLER_URL is not configured, so Butler collections cannot be polled');
      return butler;
    };
    const repos = createRepositories(db);
    // One pool of conversion threads for the process, shared by every convert job; threads start at the first conversion, so a process that converts nothing starts none.
    const convertPool = new ConvertPool({ threads: config.CONVERT_THREADS ?? availableParallelism() });
    cleanups.push(() => convertPool.close());
    const pipeline: PipelineDeps = { repos, store, sources, convertThreads: convertPool.threads, convertPool, log };
    const review: ReviewDeps = { repos, policy, clock: systemClock, log };
    const panoptes = buildPanoptes(config, onRetry);
    const zooniverseEffects = buildZooniverseEffects(config, onRetry);
    const classificationSource = buildClassificationSource(config, onRetry);
    const reduceSettings = reduceSettingsFromRules(repos, log);

    const checkRedis = async () => {
      const r = new Redis(redisUrl!, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 2000 });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
      } finally {
        r.disconnect();
      }
    };
    return {
      config,
      log,
      db,
      repos,
      lock: databaseLock(db),
      store,
      redisUrl,
      queues,
      sources,
      pipeline,
      review,
      policy,
      releases,
      panoptes,
      zooniverseEffects,
      classificationSource,
      reduceSettings,
      checkRedis,
      retryCounts,
      async close() {
        for (const c of cleanups.reverse()) await c().catch((e) => log.warn({ err: (e as Error).message }, 'error while closing'));
      },
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    throw e;
  }
}
