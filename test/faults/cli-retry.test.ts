import { describe, expect, it } from 'vitest';
import { runBridge } from '../support/cli.js';
import { waitFor } from '../support/wait.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { bullmqConnection } from '../../src/adapters/queue/redis-connection.js';
import { deploymentQueuePrefix } from '../../src/db/deployment.js';
import { EXPECTED, outcome, startWorld } from './world.js';

/**
 * An operator's recovery at the command line, in a running deployment
 * (worker processes on shared Postgres and Redis): a batch that Zooniverse
 * made fail for good is listed with its reason by `bridge status --failed`,
 * taken back up by `bridge retry --batches`, and ends uploaded, each subject
 * once.
 */
const suite = process.env.TEST_DATABASE_URL ? describe : describe.skip;

suite('bridge retry in a running deployment', () => {
  it('lists the failed batch with its reason, retries it, and it ends uploaded with every subject once', async () => {
    const w = await startWorld();
    try {
      // Zooniverse answers the first subject set's creation with something the bridge cannot use.
      w.zoo.faults.push({ route: 'createSubjectSet', kind: 'replace-body', body: { subject_sets: [{ id: '999' }] } });
      w.start('worker');
      const q = new BullMqJobQueue(bullmqConnection(w.env.REDIS_URL), await deploymentQueuePrefix(w.db));
      await q.add('poll', { collectionId: w.collectionId });
      await q.close();
      const batches = () => w.db.selectFrom('upload_batches').select(['id', 'state', 'error']).where('collection_id', '=', w.collectionId).orderBy('seq').execute();
      const stopped = await waitFor(batches, (b) => b.some((x) => x.state === 'failed') && (b.length >= EXPECTED / 8), 120_000);
      expect(stopped.filter((b) => b.state === 'failed')).toHaveLength(1);

      const env = { ...process.env, ...w.env, LOG_LEVEL: 'warn' } as Record<string, string>;
      const listed = await runBridge(['status', '--failed', '--collection', w.collectionId, '--json'], env);
      expect(listed.code, listed.stderr).toBe(0);
      const failures = JSON.parse(listed.stdout)[0];
      expect(failures.batches).toEqual([expect.objectContaining({ state: 'failed', error: expect.stringMatching(/cannot read/) })]);

      const retried = await runBridge(['retry', '--collection', w.collectionId, '--batches'], env);
      expect(retried.code, retried.stderr).toBe(0);
      expect(retried.stdout).toMatch(/failed -> manifested/);
      await waitFor(batches, (b) => b.every((x) => x.state === 'uploaded'), 120_000);
      await new Promise((r) => setTimeout(r, 1000));
      const o = await outcome(w);
      expect(o).toMatchObject({ states: { uploaded: EXPECTED }, subjects: EXPECTED, duplicates: 0, lost: 0, unlinked: 0, stuck: 0 });
      const audit = await w.db.selectFrom('audit_log').select('actor').where('action', '=', 'retry_upload_batch').execute();
      expect(audit.map((a) => a.actor)).toEqual([expect.stringMatching(/^cli:/)]);
    } finally {
      await w.close();
    }
  }, 240_000);
});
