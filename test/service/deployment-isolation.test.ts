import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { bullmqConnection } from '../../src/adapters/queue/redis-connection.js';
import { loadConfig } from '../../src/config/config.js';
import { buildServices } from '../../src/app/service.js';
import { createLogger } from '../../src/app/logger.js';
import { openDatabase } from '../../src/db/database.js';
import { runBridge } from '../support/cli.js';

/**
 * What keeps deployments and processes apart: the Redis database index of
 * REDIS_URL, a queue prefix derived from the deployment's database, one
 * process per embedded database, and split roles only on shared services.
 */
let redis: LocalRedis;
let dir: string;
beforeAll(async () => {
  redis = await startLocalRedis();
  dir = await mkdtemp(join(tmpdir(), 'isolation-'));
}, 30_000);
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

const UUID = '2b0f1c7e-9a55-4f0e-8d7c-2a1e3f4b5c6d';

describe('the Redis database index', () => {
  it('puts every queue key in the database REDIS_URL names, none in database 0', async () => {
    const q = new BullMqJobQueue(bullmqConnection(`${redis.url}/7`), 'bridge-test');
    try {
      await q.add('poll', { collectionId: UUID });
      await q.schedulePoll(UUID, 60);
    } finally {
      await q.close();
    }
    const db7 = new Redis(`${redis.url}/7`);
    const db0 = new Redis(redis.url);
    try {
      expect((await db7.keys('bridge-test:poll:*')).length).toBeGreaterThan(0);
      expect(await db0.keys('*')).toEqual([]);
    } finally {
      db7.disconnect();
      db0.disconnect();
    }
  });

  it('refuses a REDIS_URL whose path is not a database index, naming it', () => {
    expect(() => loadConfig({ BRIDGE_MODE: 'dev', REDIS_URL: 'redis://127.0.0.1:6379/queues' })).toThrow(/REDIS_URL.*database index/);
    expect(loadConfig({ BRIDGE_MODE: 'dev', REDIS_URL: 'redis://:p%40ss@127.0.0.1:6379/3' }).REDIS_URL).toBe('redis://:p%40ss@127.0.0.1:6379/3');
    expect(bullmqConnection('redis://user:p%40ss@127.0.0.1:6379/3')).toMatchObject({ db: 3, username: 'user', password: 'p@ss' });
  });
});

describe('the queue prefix', () => {
  it('differs between deployments (their own databases) sharing one Redis database, and each sees the other', async () => {
    const env = (name: string) => loadConfig({ BRIDGE_MODE: 'dev', DATA_DIR: join(dir, name), REDIS_URL: `${redis.url}/2`, ARTIFACT_ROOT: join(dir, name, 'artifacts') });
    const a = await buildServices(env('a'), { log: createLogger('silent') });
    const b = await buildServices(env('b'), { log: createLogger('silent') });
    const prefixOfA = a.queues.prefix;
    try {
      expect(a.queues.prefix).toMatch(/^bridge-[0-9a-f]{8}$/);
      expect(b.queues.prefix).not.toBe(a.queues.prefix);
      // A's poll schedule is not B's to run.
      await a.queues.schedulePoll(UUID, 60);
      expect(await a.queues.pollSchedules()).toEqual([UUID]);
      expect(await b.queues.pollSchedules()).toEqual([]);
      // But B can tell that it shares the Redis database with someone.
      expect(await b.queues.otherPrefixes()).toContain(a.queues.prefix);
    } finally {
      await a.close();
      await b.close();
    }
    // The same database gives the same prefix the next time (and to every process on it).
    const again = await buildServices(env('a'), { log: createLogger('silent') });
    try {
      expect(again.queues.prefix).toBe(prefixOfA);
    } finally {
      await again.close();
    }
  }, 60_000);
});

describe('one process per embedded database', () => {
  it('refuses a second opening of a PGlite data directory, and allows it once the first is closed', async () => {
    const data = join(dir, 'pglite-1');
    const first = await openDatabase({ dataDir: data });
    await expect(openDatabase({ dataDir: data })).rejects.toThrow(/embedded database is in use .*set DATABASE_URL to a shared Postgres/);
    await first.destroy();
    const second = await openDatabase({ dataDir: data });
    await second.destroy();
  }, 60_000);

  it('takes over the lock a dead process left behind', async () => {
    const data = join(dir, 'pglite-2');
    const first = await openDatabase({ dataDir: data });
    await first.destroy();
    await writeFile(join(data, 'bridge.pid'), `999999 ${(await import('node:os')).hostname()}\n`);
    const db = await openDatabase({ dataDir: data });
    await db.destroy();
  }, 60_000);

  it('a second bridge process on the same data directory is refused with the way out', async () => {
    const data = join(dir, 'shared');
    const db = await openDatabase({ dataDir: join(data, 'pglite') });
    try {
      const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: data, LOG_LEVEL: 'warn' } as Record<string, string>;
      delete env.DATABASE_URL;
      const out = await runBridge(['status'], env);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toMatch(/the embedded database is in use \(process \d+/);
    } finally {
      await db.destroy();
    }
  }, 60_000);

  it('split roles refuse to start without a shared database and Redis', async () => {
    const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'split'), LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    const out = await runBridge(['serve', '--role', 'worker'], env);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--role worker .*set DATABASE_URL \(a shared Postgres\) and REDIS_URL \(a shared Redis\)/);
  }, 60_000);
});
