import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DEFAULT_RELEASES } from '../../src/domain/releases.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { pipelineHandlers } from '../../workers/handlers.js';
import { startWorkers } from '../../workers/runner.js';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { httpWebhookSender } from '../../src/adapters/webhook/http-webhook-sender.js';
import { databaseLock } from '../../src/db/locks.js';
import { generateClassifications } from '../support/classifications.js';
import { quietLog } from '../support/upload-fixtures.js';
import { waitFor } from '../support/wait.js';
import { resultsWorld, seedOf, type ResultsWorld } from './harness.js';

/*
 * The results jobs on real Redis and BullMQ workers: a pull job stores the
 * classifications and queues the collection's reduction (even though the
 * job ids of the catalogue would dedupe a plain add), the reduction writes
 * the results and queues the results rules; the sweep registers the
 * project's pull schedule at RESULTS_PULL_INTERVAL_SECONDS.
 */
describe('results jobs', () => {
  let w: ResultsWorld;
  let redis: LocalRedis;
  let queues: BullMqJobQueue;
  let workers: ReturnType<typeof startWorkers> | undefined;
  beforeAll(async () => {
    w = await resultsWorld('pglite', 4);
    redis = await startLocalRedis();
    queues = new BullMqJobQueue({ host: '127.0.0.1', port: Number(new URL(redis.url).port), maxRetriesPerRequest: null }, `results-${Date.now()}`);
  });
  afterAll(async () => {
    await workers?.close(5_000);
    await queues?.close();
    await redis?.stop();
    await w?.close();
  });

  it('pull -> reduce -> rules, and the sweep schedules the pull', async () => {
    const gen = [...generateClassifications({ seed: 51, subjects: 4, perSubject: 5, volunteers: 8, repeats: 0 })];
    const seeded = w.server.addClassifications(gen.map((c) => seedOf(c)));
    const repos = w.repos;
    const store = w.store.store;
    const h = pipelineHandlers(
      { repos, store, sources: () => { throw new Error('not used'); }, convertThreads: 1, log: quietLog },
      { repos, policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => new Date() }, log: quietLog },
      { repos, lock: databaseLock(w.t.db), store, log: quietLog },
      queues,
      { sweepAgeMs: 60_000, webhooks: httpWebhookSender(), releases: DEFAULT_RELEASES, classificationSource: w.adapters.classifications, reduceSettings: async () => null, pullIntervalSeconds: 120 },
    );
    workers = startWorkers(h, { connection: queues.connection, prefix: queues.prefix, concurrency: 2, log: quietLog, queues: ['results'] });
    await queues.add('pullClassifications', { projectId: '1' });
    const reduced = await waitFor(() => repos.reductions.count(w.collectionId), (n) => n === 4, 60_000);
    expect(reduced).toBe(4);
    const n = Number((await w.t.db.selectFrom('classifications').select(sql<string>`count(*)::text`.as('n')).executeTakeFirstOrThrow()).n);
    expect(n).toBe(seeded.length);
    const ev = await waitFor(() => w.t.db.selectFrom('events').select('payload').where('kind', '=', 'results_updated').execute(), (e) => e.length >= 1);
    expect(ev.reduce((s, e) => s + Number((e.payload as { classifications: number }).classifications), 0)).toBe(seeded.length);

    // The sweep (maintenance queue, run directly here) keeps the project's pull scheduled.
    await h.sweep({}, { attemptsMade: 0, maxAttempts: 1 });
    const schedulers = await queues.queue('results').getJobSchedulers(0, 100, true);
    const pull = schedulers.find((s) => s.key === 'pull-classifications-1');
    expect(pull).toBeDefined();
    expect(Number(pull!.every)).toBe(120_000);
    expect(await queues.pullSchedules()).toEqual(['1']);
    // A project the bridge no longer has subjects in loses its schedule at the next sweep.
    await queues.schedulePull('777', 120);
    await h.sweep({}, { attemptsMade: 0, maxAttempts: 1 });
    expect(await queues.pullSchedules()).toEqual(['1']);
    await queues.unschedulePull('1');
    expect(await queues.pullSchedules()).toEqual([]);
  }, 120_000);
});
