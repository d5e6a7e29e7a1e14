import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisNotInstalledError, startLocalRedis } from '../../src/adapters/redis/redis-server.js';
import { evictionPolicyWarning } from '../../src/adapters/redis/redis-check.js';

describe('private redis-server', () => {
  it('starts on a free loopback port with noeviction, and stops', async () => {
    const redis = await startLocalRedis();
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await evictionPolicyWarning(redis.url)).toBeNull();
    const c = new Redis(redis.url);
    expect(await c.ping()).toBe('PONG');
    c.disconnect();
    await redis.stop();
    const after = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    after.on('error', () => {});
    await expect(after.connect()).rejects.toThrow();
  });

  it('says how to install redis-server when it is missing', async () => {
    await expect(startLocalRedis({ binary: 'redis-server-does-not-exist' })).rejects.toBeInstanceOf(RedisNotInstalledError);
    await expect(startLocalRedis({ binary: 'redis-server-does-not-exist' })).rejects.toThrow(/apt-get install redis-server/);
  });

  it('warns when the eviction policy could drop jobs', async () => {
    const redis = await startLocalRedis();
    const c = new Redis(redis.url);
    await c.config('SET', 'maxmemory-policy', 'allkeys-lru');
    c.disconnect();
    expect(await evictionPolicyWarning(redis.url)).toMatch(/"allkeys-lru"; BullMQ needs "noeviction"/);
    await redis.stop();
  });
});
