import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openDatabase, type Db } from '../../src/db/database.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { runBridge, standaloneEnv, type CliRun } from '../support/cli.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';
import { resultsDataDir } from './harness.js';

/**
 * The operator's results commands as a process of their own on the
 * service's database: status, pull (needs the deployment's Redis), export
 * backfill (Panoptes' one-a-day rule surfaces as a refusal naming when) and
 * recompute (a mark the reduction job acts on, audited).
 */
describe('bridge results status | pull | backfill | recompute', () => {
  let dir: string;
  let name: string;
  let id: string;
  let zoo: PanoptesServerDouble;
  let redis: LocalRedis;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'results-ops-'));
    zoo = await PanoptesServerDouble.start({ projects: [{ id: '1', displayName: 'Rubin Test Project', slug: 'rubin/test' }] });
    redis = await startLocalRedis();
    ({ name, id } = await resultsDataDir(dir, 4, async (db, c) => {
      await db.updateTable('collections').set({ zooniverse_project_id: '1' }).where('id', '=', c.id).execute();
    }));
  }, 120_000);
  afterAll(async () => {
    await zoo?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function bridge(args: string[], extra: Record<string, string> = {}): Promise<CliRun> {
    return runBridge(['results', ...args], standaloneEnv({ BRIDGE_MODE: 'dev', DATA_DIR: dir, LOG_LEVEL: 'warn', ...extra }));
  }
  async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const db = await openDatabase({ dataDir: join(dir, 'pglite') });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  it('status says how far the reduction is, as text and as JSON', async () => {
    const text = await bridge(['status', '--collection', name]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${name}: 0 classification(s) stored, 4 subject(s) reduced`);
    expect(text.stdout).toContain('Zooniverse project 1');
    expect(text.stdout).toContain('pull: not yet');
    const json = await bridge(['status', '--collection', id, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ collectionId: id, projectId: '1', reducedSubjects: 4 });
    const unknown = await bridge(['status', '--collection', 'u/alien/nothing-here']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no collection u\/alien\/nothing-here/);
  }, 60_000);

  it('pull queues the project in the deployment\'s Redis, and says why not without it', async () => {
    const without = await bridge(['pull', '--collection', name]);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/pull needs REDIS_URL/);
    const r = await bridge(['pull', '--collection', name], { REDIS_URL: redis.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('queued a pull of project 1');
    const client = new Redis(redis.url);
    try {
      expect((await client.keys('*:results:pull-classifications-1')).length).toBe(1);
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it('backfill asks Panoptes for one export (and needs the Zooniverse credentials); the status then shows it requested', async () => {
    const creds = { ZOONIVERSE_BASE_URL: zoo.url, ZOONIVERSE_CLIENT_ID: PANOPTES_CLIENT_ID, ZOONIVERSE_CLIENT_SECRET: PANOPTES_CLIENT_SECRET };
    const none = await bridge(['backfill', '--collection', name]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/ZOONIVERSE_CLIENT_ID/);
    const first = await bridge(['backfill', '--collection', name], creds);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Panoptes is building the classification export/);
    expect(zoo.requestsTo('createClassificationsExport')).toHaveLength(1);
    const status = JSON.parse((await bridge(['status', '--collection', name, '--json'])).stdout);
    expect(status.export.state).toBe('requested');
  }, 60_000);

  it('recompute marks the collection for the reduction job and audits who asked', async () => {
    const r = await bridge(['recompute', '--collection', name], { USER: 'ops' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${name}: marked for a full recompute; no REDIS_URL`);
    await withDb(async (db) => {
      const p = await db.selectFrom('reduction_progress').select('options_digest').where('collection_id', '=', id).executeTakeFirstOrThrow();
      expect(p.options_digest).toBe('');
      const audit = await db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', id).where('action', '=', 'results_recompute').execute();
      expect(audit).toEqual([{ actor: 'cli:ops', action: 'results_recompute' }]);
    });
  }, 60_000);
});
