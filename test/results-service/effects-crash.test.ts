import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Caller } from '../../src/domain/caller.js';
import { applyResultRules } from '../../src/domain/results-effects.js';
import { setResultsRulesEnabled, storeResultsRules } from '../../src/domain/results-rules-store.js';
import { freshDatabase, type TestDb } from '../support/databases.js';
import { PanoptesServerDouble } from '../support/panoptes-server.js';
import { resultsAdapters } from '../support/results-adapters.js';
import { expertRules, resultsWorld, retireRules, t0, type ResultsWorld } from './effects-fixture.js';

/*
 * kill -9 of a process in the middle of applying results rules: once while
 * Panoptes has retired the subjects but not yet answered, once while it has
 * added subjects to the expert set but not yet answered. Another process
 * then finishes. On the test server's own records: every subject retired
 * once and moved once, never a second request for the same subject; the
 * ledger ends with every effect done. Needs Postgres (processes share it).
 */
const ROOT = join(import.meta.dirname, '..', '..');
const alien: Caller = { username: 'alien', roles: ['pi'] };

describe.skipIf(!process.env.TEST_DATABASE_URL)('results effects survive kill -9', () => {
  let t: TestDb;
  let zoo: PanoptesServerDouble;
  let w: ResultsWorld;
  beforeAll(async () => {
    t = await freshDatabase('postgres');
    zoo = await PanoptesServerDouble.start({ projects: [{ id: '1', displayName: 'Rubin Test Project', slug: 'rubin/test' }] });
    w = await resultsWorld(t.db, zoo);
  }, 120_000);
  afterAll(async () => {
    await zoo?.close();
    await t?.close();
  });

  it('no subject is retired or moved twice, and every effect ends done', async () => {
    // Both fixture rule files in one: retire at consensus, ambiguous subjects to the expert set (with its flag and notify).
    const rules = `${retireRules(w.workflowId)}${expertRules(w.expertSet).split('rules:\n')[1]}`;
    const c = await w.repos.collections.get(w.collectionId);
    await storeResultsRules(w.repos, alien, c, rules);
    await setResultsRulesEnabled({ repos: w.repos, queues: { add: async () => {} } }, alien, c, true);
    const retire = [...w.reductions].filter(([, r]) => t0(r).agreement >= 0.8 && t0(r).classifications >= 5).map(([s]) => s).sort();
    const expert = [...w.reductions].filter(([, r]) => t0(r).agreement < 0.6 && t0(r).classifications >= 5).map(([s]) => s).sort();
    expect(retire.length).toBeGreaterThan(2);
    expect(expert.length).toBeGreaterThan(1);

    const url = await dbUrl(t);
    // Each run dies after Panoptes has acted on one kind of effect and before its answer arrives: both routes hold
    // their first answer, and whichever the run sends first is where it dies; the next run meets the other.
    zoo.faults.length = 0;
    zoo.faults.push({ route: 'retireSubjects', kind: 'commit-then-stall', ms: 30_000 }, { route: 'linkSubjects', kind: 'commit-then-stall', ms: 30_000 });
    const fired = () => zoo.faults.filter((f) => (f.fired ?? 0) > 0).length;
    for (let run = 1; run <= 2; run++) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/results-service/effects-child.ts')], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url, PANOPTES_URL: zoo.url, COLLECTION_ID: w.collectionId }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b));
      const killed = await new Promise<boolean>((resolve) => {
        const timer = setInterval(() => {
          if (fired() >= run) {
            clearInterval(timer);
            child.kill('SIGKILL');
            resolve(true);
          }
        }, 10);
        child.on('exit', () => {
          clearInterval(timer);
          resolve(false);
        });
      });
      expect(killed, `run ${run} should have been stopped mid-request: ${stderr}`).toBe(true);
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    }
    expect(zoo.faults.map((f) => f.fired ?? 0)).toEqual([1, 1]);
    zoo.faults.length = 0;
    // What the kills left: effects Panoptes applied but the ledger could not confirm.
    const left = await t.db.selectFrom('result_effects').select(['kind', 'state']).where('collection_id', '=', w.collectionId).execute();
    expect(left.some((r) => r.state === 'sending')).toBe(true);

    const { effects } = resultsAdapters(zoo);
    const report = await applyResultRules({ repos: w.repos, zooniverse: effects, retireReadBackDelayMs: 0, sleep: async () => {} }, w.collectionId);
    expect(report).toMatchObject({ failed: 0, unsettled: 0 });

    for (const s of retire) expect(zoo.results.retireRequestsFor(w.workflowId, s), `retire requests for subject ${s}`).toBe(1);
    for (const s of expert) expect(zoo.results.linkRequestsFor(w.expertSet, s), `set links for subject ${s}`).toBe(1);
    expect([...zoo.results.retired(w.workflowId).keys()].sort()).toEqual(retire);
    expect([...zoo.setMembers(w.expertSet)].sort()).toEqual(expert);
    const rows = await t.db.selectFrom('result_effects').select(['subject_id', 'kind', 'state']).where('collection_id', '=', w.collectionId).execute();
    expect(rows.filter((r) => r.kind === 'retire_subject').map((r) => r.subject_id).sort()).toEqual(retire);
    expect(rows.filter((r) => r.kind === 'add_subject_to_set').map((r) => r.subject_id).sort()).toEqual(expert);
    expect(rows.every((r) => r.state === 'done')).toBe(true);
    expect(rows.filter((r) => r.kind === 'flag').map((r) => r.subject_id).sort()).toEqual(expert);
  }, 180_000);
});

async function dbUrl(t: TestDb): Promise<string> {
  const name = (await sql<{ d: string }>`select current_database() as d`.execute(t.db)).rows[0].d;
  const u = new URL(process.env.TEST_DATABASE_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}
