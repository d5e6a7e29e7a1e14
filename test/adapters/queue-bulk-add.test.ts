import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { bullmqConnection } from '../../src/adapters/queue/redis-connection.js';

/**
 * addBulk is add() for many payloads in one round trip (the poll queues its
 * retrievals with it): the jobs get add()'s ids, so work already pending,
 * or named twice in one call, is queued once; a bad payload queues nothing.
 */
let redis: LocalRedis;
let q: BullMqJobQueue;
beforeAll(async () => {
  redis = await startLocalRedis();
  q = new BullMqJobQueue(bullmqConnection(redis.url), `bulk-${randomUUID().slice(0, 8)}`);
}, 30_000);
afterAll(async () => {
  await q?.close();
  await redis?.stop();
});

describe('JobQueue.addBulk on BullMQ', () => {
  it('queues each payload once under the id add() gives it, whatever is already pending', async () => {
    const ids = Array.from({ length: 5 }, () => randomUUID());
    await q.add('retrieve', { artifactId: ids[0] });
    // ids[0] is pending already, ids[1] is named twice.
    await q.addBulk('retrieve', [...ids, ids[1]].map((artifactId) => ({ artifactId })));
    const jobs = await q.queue('retrieve').getJobs(['waiting']);
    expect(jobs.map((j) => j.id).sort()).toEqual(ids.map((id) => `retrieve-${id}`).sort());
    expect(jobs.map((j) => j.data.artifactId).sort()).toEqual([...ids].sort());
    // The same options as add(): retries from the catalogue, completed jobs dropped.
    expect(jobs.every((j) => j.opts.attempts === 8 && j.opts.removeOnComplete === true)).toBe(true);

    // A later add() of the same work is dropped too, as after an add().
    await q.add('retrieve', { artifactId: ids[4] });
    expect(await q.queue('retrieve').getWaitingCount()).toBe(5);
  });

  it('validates every payload first: one bad payload queues none', async () => {
    const before = await q.queue('retrieve').getWaitingCount();
    await expect(q.addBulk('retrieve', [{ artifactId: randomUUID() }, { artifactId: 'not-a-uuid' }])).rejects.toThrow();
    expect(await q.queue('retrieve').getWaitingCount()).toBe(before);
    await q.addBulk('retrieve', []);
    expect(await q.queue('retrieve').getWaitingCount()).toBe(before);
  });
});
