import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, readdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startWorkerRole } from '../../workers/main.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createLogger } from '../../src/app/logger.js';
import { writeDemoArtifacts, type DemoLayout } from '../../src/demo/demo-data.js';
import { DB_KINDS } from '../support/databases.js';
import { waitFor } from '../support/wait.js';

/**
 * The acceptance path of the backbone: a collection of 3 tracts x 3 bands x
 * 20 stamps through poll -> retrieve -> convert, on real Redis, a real
 * database and the filesystem store.
 */
const LAYOUT: DemoLayout = { owner: 'alien', run: 'u/alien/zoo-1', datasetType: 'zooniverse_cutout', tracts: [9813, 9814, 9815], patches: [42], stampsPerFile: 20, size: 48 };
const EXPECTED = 60;

let redis: LocalRedis;
beforeAll(async () => {
  redis = await startLocalRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function envFor(kind: string, dir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), ARTIFACT_ROOT: join(dir, 'artifacts'), REDIS_URL: redis.url, LOG_LEVEL: 'warn', SWEEP_INTERVAL_SECONDS: '5', JOB_LOCK_SECONDS: '4' };
  if (kind === 'postgres') {
    const pg = await import('pg');
    const name = `bridge_pipe_${Math.random().toString(16).slice(2, 10)}`;
    const admin = new pg.default.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(process.env.TEST_DATABASE_URL!);
    u.pathname = `/${name}`;
    env.DATABASE_URL = u.toString();
    dropLater.push(name);
  }
  return env;
}

const dropLater: string[] = [];
afterAll(async () => {
  if (!dropLater.length) return;
  const pg = await import('pg');
  const admin = new pg.default.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  for (const name of dropLater) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
});

async function counts(s: Services) {
  const images = await sql<{ state: string; n: number }>`select state, count(*)::int as n from images group by state`.execute(s.db);
  const arts = await sql<{ state: string; n: number }>`select state, count(*)::int as n from artifacts group by state`.execute(s.db);
  const dup = await sql<{ n: number }>`select count(*)::int as n from (select collection_id, group_key, stamp_index from images group by 1,2,3 having count(*) > 1) d`.execute(s.db);
  return { images: Object.fromEntries(images.rows.map((r) => [r.state, r.n])), artifacts: Object.fromEntries(arts.rows.map((r) => [r.state, r.n])), duplicates: dup.rows[0].n };
}

for (const kind of DB_KINDS) {
  describe(`pipeline on ${kind}`, () => {
    let dir: string;
    let env: Record<string, string>;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `pipeline-${kind}-`));
      env = await envFor(kind, dir);
      await writeDemoArtifacts(env.ARTIFACT_ROOT, LAYOUT);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('3 tracts x 3 bands x 20 stamps: exactly 60 images in quarantine; polling again adds nothing; a corrupt artifact fails alone', async () => {
      // One corrupt file in a fourth tract: it must fail with its reason while the rest proceed.
      const bad = { ...LAYOUT, tracts: [9999], stampsPerFile: 2 };
      await writeDemoArtifacts(env.ARTIFACT_ROOT, bad);
      const badFile = join(env.ARTIFACT_ROOT, LAYOUT.run, LAYOUT.datasetType, '9999', '42', 'r');
      const [name] = await readdir(badFile);
      // Its first header card overwritten: not FITS any more. (A file cut short converts in part: see readable-failures.test.ts.)
      const bytes = await readFile(join(badFile, name));
      bytes.write('JUNK    = 1'.padEnd(80, ' '), 0, 'latin1');
      await writeFile(join(badFile, name), bytes);

      const s = await buildServices(loadConfig(env), { log: createLogger('warn'), migrate: true });
      const w = await startWorkerRole(s);
      try {
        const c = await createCollection(s.db, { owner: 'alien', repository: 'dp02', name: LAYOUT.run, sourceKind: 'prefix', sourceRoot: env.ARTIFACT_ROOT, datasetType: LAYOUT.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
        await s.queues.add('poll', { collectionId: c.id });
        const done = await waitFor(() => counts(s), (v) => (v.images.quarantined ?? 0) >= EXPECTED && (v.artifacts.failed ?? 0) >= 1);
        expect(done.images.quarantined).toBe(EXPECTED);
        expect(done.duplicates).toBe(0);
        expect(done.artifacts.converted).toBe(9);
        const failed = await s.db.selectFrom('artifacts').select(['band', 'error', 'group_key']).where('state', '=', 'failed').execute();
        const corrupt = failed.find((f) => f.band === 'r')!;
        expect(corrupt.error).toMatch(/not a FITS header/);
        expect(corrupt.error).toContain(name);
        expect(failed.every((f) => f.group_key.includes('9999'))).toBe(true);

        // Poll again: same datasets, no new artifacts or images.
        await s.queues.add('poll', { collectionId: c.id });
        await new Promise((r) => setTimeout(r, 1500));
        const again = await counts(s);
        expect(again.images.quarantined).toBe(EXPECTED);
        const n = await s.db.selectFrom('artifacts').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
        expect(n.n).toBe(12);
        // Every image is in the private store.
        const files = await readdir(join(env.DATA_DIR, 'objects', 'quarantine', 'images', c.id));
        expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(EXPECTED);
      } finally {
        await w.close();
        await s.close();
      }
    });
  });
}

describe('crash safety', () => {
  // Stamps large enough, and groups converted one at a time on one thread in
  // the run that is killed, that the kill lands between the first image and
  // the last: with LAYOUT's 48x48 stamps a fast machine stored all 60 images
  // between two progress reports, and the kill came after the end.
  const KILL_LAYOUT: DemoLayout = { ...LAYOUT, stampsPerFile: 30, size: 256 };
  const KILL_EXPECTED = 90;
  const ONE_AT_A_TIME = { WORKER_CONCURRENCY: '1', CONVERT_CONCURRENCY: '1', CONVERT_THREADS: '1', PROGRESS_MS: '10' };

  it('kill -9 of the worker mid-convert, then a restart, gives the same final counts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipeline-kill-'));
    try {
      const env = await envFor(DB_KINDS.includes('postgres') ? 'postgres' : 'pglite', dir);
      await writeDemoArtifacts(env.ARTIFACT_ROOT, KILL_LAYOUT);
      const s = await buildServices(loadConfig(env), { log: createLogger('warn'), migrate: true });
      const c = await createCollection(s.db, { owner: 'alien', repository: 'dp02', name: KILL_LAYOUT.run, sourceKind: 'prefix', sourceRoot: env.ARTIFACT_ROOT, datasetType: KILL_LAYOUT.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
      await s.queues.add('poll', { collectionId: c.id });
      await s.close();

      const run = (target: number, killAt?: number) =>
        new Promise<{ killed: boolean; last: number }>((resolve, reject) => {
          const extra = killAt !== undefined ? ONE_AT_A_TIME : {};
          const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../support/worker-process.ts')], { env: { ...process.env, ...env, ...extra, EXIT_WHEN_IMAGES: String(target) }, stdio: ['ignore', 'pipe', 'inherit'] });
          let last = 0;
          let killed = false;
          child.stdout.on('data', (d: Buffer) => {
            for (const line of d.toString().trim().split('\n')) {
              try {
                last = (JSON.parse(line) as { images: number }).images;
              } catch {
                /* log line */
              }
            }
            if (killAt !== undefined && !killed && last >= killAt) {
              killed = true;
              child.kill('SIGKILL');
            }
          });
          child.on('exit', () => resolve({ killed, last }));
          child.on('error', reject);
        });
      const first = await run(KILL_EXPECTED, 1);
      expect(first.killed).toBe(true);
      expect(first.last).toBeGreaterThan(0);
      expect(first.last).toBeLessThan(KILL_EXPECTED);
      const second = await run(KILL_EXPECTED);
      expect(second.last).toBe(KILL_EXPECTED);

      const s2 = await buildServices(loadConfig(env), { log: createLogger('warn') });
      try {
        const final = await counts(s2);
        expect(final.images).toEqual({ quarantined: KILL_EXPECTED });
        expect(final.duplicates).toBe(0);
        expect(final.artifacts).toEqual({ converted: 9 });
      } finally {
        await s2.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
