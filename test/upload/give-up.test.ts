import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES } from '../../src/domain/releases.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { pipelineHandlers } from '../../workers/handlers.js';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { PanoptesServerDouble } from '../support/panoptes-server.js';
import { panoptesClient, quietLog, seedUploadBatch, startPublicStore, type PublicStore } from '../support/upload-fixtures.js';
import { freshDatabase, type TestDb } from '../support/databases.js';
import { httpWebhookSender } from '../../src/adapters/webhook/http-webhook-sender.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { databaseLock } from '../../src/db/locks.js';

/**
 * Zooniverse keeps refusing (uploading switched off): the upload job retries,
 * and on its last attempt the batch ends 'failed' with the reason for the PI
 * and a batch_failed event, rather than hanging in 'uploading'.
 */
describe('upload job gives up', () => {
  let t: TestDb;
  let pub: PublicStore;
  let zoo: PanoptesServerDouble;
  let redis: LocalRedis;
  let queues: BullMqJobQueue;
  beforeAll(async () => {
    t = await freshDatabase('pglite');
    pub = await startPublicStore();
    zoo = await PanoptesServerDouble.start();
    redis = await startLocalRedis();
    queues = new BullMqJobQueue({ host: '127.0.0.1', port: Number(new URL(redis.url).port), maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    await queues?.close();
    await redis?.stop();
    await zoo?.close();
    await pub?.close();
    await t?.close();
  });

  it('retries while attempts remain, then records the failure on the batch', async () => {
    const b = await seedUploadBatch(t.db, pub.store, { n: 30 });
    zoo.uploadingDisabled = true;
    const d = { db: t.db, repos: createRepositories(t.db), store: pub.store, sources: () => { throw new Error('not used'); }, convertThreads: 1, log: quietLog };
    const h = pipelineHandlers(d, { repos: createRepositories(t.db), policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => new Date() }, log: quietLog }, { repos: createRepositories(t.db), lock: databaseLock(t.db), store: pub.store, log: quietLog, panoptes: panoptesClient(zoo.url) }, queues, { sweepAgeMs: 60_000, webhooks: httpWebhookSender(), releases: DEFAULT_RELEASES });
    const state = async () => (await t.db.selectFrom('upload_batches').select(['state', 'error']).where('id', '=', b.batchId).executeTakeFirstOrThrow());

    await expect(h.upload({ collectionId: b.collectionId, round: 'r1' }, { attemptsMade: 0, maxAttempts: 3 })).rejects.toThrow(/disabled|503|creates in a row/i);
    expect((await state()).state).toBe('uploading');

    await expect(h.upload({ collectionId: b.collectionId, round: 'r1' }, { attemptsMade: 2, maxAttempts: 3 })).rejects.toThrow();
    const last = await state();
    expect(last.state).toBe('failed');
    expect(last.error).toMatch(/^gave up after 3 attempts: /);
    const ev = await t.db.selectFrom('events').select('kind').where('collection_id', '=', b.collectionId).execute();
    expect(ev.map((e) => e.kind)).toContain('batch_failed');
    expect(zoo.allSubjects()).toHaveLength(0);
  }, 120_000);
});
