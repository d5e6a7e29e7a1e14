import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { loadConfig } from '../../src/config/config.js';
import { buildServices } from '../../src/app/service.js';
import { startWorkerRole } from '../../workers/main.js';
import { createCollection, findCollection } from '../../src/db/repositories/collections.js';
import { createLogger } from '../../src/app/logger.js';
import { writeDemoArtifacts, type DemoLayout } from '../../src/demo/demo-data.js';
import { ButlerServerDouble, DOUBLE_TOKEN, type SeedDataset } from '../support/butler-server.js';
import { waitFor } from '../support/wait.js';

/**
 * The Butler server is down when the poll runs: the worker must keep going,
 * the collection must say what is wrong, and once the server is back the
 * retried poll must bring everything in.
 */
const LAYOUT: DemoLayout = { owner: 'alien', run: 'u/alien/outage', datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: 4, size: 32 };

let redis: LocalRedis;
let dir: string;
beforeAll(async () => {
  redis = await startLocalRedis();
  dir = await mkdtemp(join(tmpdir(), 'outage-'));
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A port nothing listens on (yet): connections are refused, as for a server that is down. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function seedFromDemo(): Promise<SeedDataset[]> {
  const root = join(dir, 'demo');
  await writeDemoArtifacts(root, LAYOUT);
  const out: SeedDataset[] = [];
  const base = join(root, LAYOUT.run, LAYOUT.datasetType, '9813', '42');
  for (const band of await readdir(base)) {
    const [name] = await readdir(join(base, band));
    out.push({ id: randomUUID(), datasetType: LAYOUT.datasetType, run: LAYOUT.run, dataId: { band, skymap: 'lsst_cells_v1', tract: 9813, patch: 42 }, ingestDate: new Date(Date.now() - 3600_000), bytes: new Uint8Array(await readFile(join(base, band, name))) });
  }
  return out;
}

describe('Butler server unreachable', () => {
  it('retries, shows the error on the collection, keeps the worker alive, and recovers when the server returns', async () => {
    const port = await closedPort();
    const env = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), REDIS_URL: redis.url, LOG_LEVEL: 'silent', BUTLER_URL: `http://127.0.0.1:${port}`, BUTLER_TOKEN: DOUBLE_TOKEN, BUTLER_RETRY_ATTEMPTS: '2', BUTLER_RETRY_BASE_MS: '20' };
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const s = await buildServices(loadConfig(env), { log: createLogger('info', sink), migrate: true });
    const w = await startWorkerRole(s);
    let butler: ButlerServerDouble | undefined;
    try {
      const c = await createCollection(s.db, { owner: 'alien', repository: 'dp02', name: LAYOUT.run, sourceKind: 'butler', sourceRoot: null, datasetType: LAYOUT.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      await s.queues.add('poll', { collectionId: c.id });

      // The failure is visible on the collection, naming the server and the attempts.
      const failed = await waitFor(() => findCollection(s.db, c.id), (v) => !!v?.last_poll_error);
      expect(failed!.last_poll_error).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}|Butler`));
      expect(failed!.last_poll_error).toMatch(/2 attempts/);
      expect(failed!.last_poll_error).not.toContain(DOUBLE_TOKEN);
      // Each failed attempt is logged with its attempt and wait, and counted for /metrics by upstream and error class.
      const retryLine = logs.map((l) => JSON.parse(l)).find((l) => l.upstream === 'butler' && l.attempt === 1);
      expect(retryLine).toMatchObject({ level: 30, errorClass: 'ECONNREFUSED', waitMs: expect.any(Number), msg: expect.stringMatching(/^butler call failed, retrying in \d+ ms$/) });
      expect(logs.join('')).not.toContain(DOUBLE_TOKEN);
      const counted = await waitFor(() => s.retryCounts.read(), (r) => r.some((x) => x.outcome === 'gave_up'));
      expect(counted).toEqual(expect.arrayContaining([expect.objectContaining({ upstream: 'butler', errorClass: 'ECONNREFUSED', outcome: 'retried' }), expect.objectContaining({ upstream: 'butler', errorClass: 'ECONNREFUSED', outcome: 'gave_up' })]));

      // The poll waits for its retry instead of failing for good. (The
      // sweep's scheduler may have started a second poll of the collection.)
      const poll = s.queues.queue('poll');
      const retries = async () => (await poll.getDelayed()).filter((j) => j.attemptsMade > 0);
      const delayed = await waitFor(retries, (v) => v.length >= 1);
      expect(delayed.every((j) => j.attemptsMade === 1 && j.data.collectionId === c.id)).toBe(true);
      expect(await poll.getFailedCount()).toBe(0);
      // The worker process is still serving: its Redis connection and workers are up.
      expect(w.workers.every((x) => x.isRunning())).toBe(true);

      // The server comes back where the bridge expects it; the retry (hurried
      // along here instead of waiting out the backoff) brings the data in.
      butler = await ButlerServerDouble.start({ port, repository: 'dp02' });
      butler.seed(...(await seedFromDemo()));
      for (const j of delayed) await j.promote().catch(() => undefined);
      const n = await waitFor(
        async () => (await sql<{ n: number }>`select count(*)::int as n from images where state = 'quarantined'`.execute(s.db)).rows[0].n,
        (v) => v === LAYOUT.stampsPerFile,
      );
      expect(n).toBe(LAYOUT.stampsPerFile);
      const recovered = await findCollection(s.db, c.id);
      expect(recovered!.last_poll_error).toBeNull();
    } finally {
      await w.close();
      await s.close();
      await butler?.close();
    }
  }, 90_000);
});
