import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { pullProject } from '../../src/domain/results-pull.js';
import { generateClassifications } from '../support/classifications.js';
import { deps, resultsWorld, seedOf, type ResultsWorld } from './harness.js';

/*
 * kill -9 of a process in the middle of pulling (while it waits for a
 * page, and right after Panoptes answered one), several times, then the
 * pull finished: every classification stored once and counted once (the
 * page, its counts and the cursor are one transaction). Needs Postgres (two
 * processes share the database).
 */
const ROOT = join(import.meta.dirname, '..', '..');

describe.skipIf(!process.env.TEST_DATABASE_URL)('pull survives kill -9', () => {
  let w: ResultsWorld;
  beforeAll(async () => {
    w = await resultsWorld('postgres', 6);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it('no classification is counted twice or skipped', async () => {
    const gen = [...generateClassifications({ seed: 61, subjects: 6, perSubject: 5, volunteers: 9, repeats: 0 })];
    const seeded = w.server.addClassifications(gen.map((c) => seedOf(c)));
    const url = await dbUrl(w);
    let kills = 0;
    // Hold some listing answers (the process dies waiting) and let others through (it dies while storing, or between pages).
    for (const [i, mode] of (['stall', 'after', 'stall', 'after'] as const).entries()) {
      if (mode === 'stall') w.server.faults.push({ route: 'listProjectClassifications', kind: 'commit-then-stall', ms: 3000, skip: 1 });
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/results-service/pull-child.ts')], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url, PANOPTES_URL: w.server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let lines = 0;
      await new Promise<void>((resolve) => {
        const kill = () => {
          if (child.exitCode === null) child.kill('SIGKILL');
          kills++;
          resolve();
        };
        child.stdout.on('data', (b: Buffer) => {
          lines += String(b).split('\n').filter(Boolean).length;
          if (mode === 'after' && lines >= i + 1) kill();
        });
        if (mode === 'stall') {
          const timer = setInterval(() => {
            if (w.server.faults.some((f) => (f.fired ?? 0) > 0)) {
              clearInterval(timer);
              kill();
            }
          }, 20);
        }
        child.on('exit', () => resolve());
      });
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      w.server.faults.length = 0;
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const midway = (await w.repos.classifications.cursor('1'))!;
    expect(midway.kept).toBe(await distinct(w));
    await pullProject(deps(w), '1', { pageSize: 3 });
    const rows = await w.t.db.selectFrom('classifications').select([sql<string>`id::text`.as('id')]).orderBy('classifications.id').execute();
    expect(rows.map((r) => r.id)).toEqual(seeded.map((c) => c.id));
    expect((await w.repos.classifications.cursor('1'))!.kept).toBe(seeded.length);
  }, 180_000);
});

async function distinct(w: ResultsWorld): Promise<number> {
  return Number((await w.t.db.selectFrom('classifications').select(sql<string>`count(distinct id)::text`.as('n')).executeTakeFirstOrThrow()).n);
}

async function dbUrl(w: ResultsWorld): Promise<string> {
  const name = (await sql<{ d: string }>`select current_database() as d`.execute(w.t.db)).rows[0].d;
  const u = new URL(process.env.TEST_DATABASE_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}
