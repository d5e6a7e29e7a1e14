import { Redis } from 'ioredis';
import { bullmqConnection } from '../queue/redis-connection.js';

/**
 * How often calls to the Butler, storage and Zooniverse failed and were
 * tried again (or given up), by upstream and error class. The retries
 * happen in worker processes and /metrics is served by the API process, so
 * the counts live in Redis (one hash per deployment, beside its queues):
 * every process adds to them and the API reads them. Counting never gets
 * in the way of the call it counts: a Redis error loses a count, nothing else.
 */
export class UpstreamRetryCounts {
  private readonly redis: Redis;
  private readonly key: string;

  constructor(redisUrl: string, prefix: string) {
    this.redis = new Redis({ ...bullmqConnection(redisUrl), maxRetriesPerRequest: 1, lazyConnect: true, enableOfflineQueue: true });
    this.redis.on('error', () => {});
    this.key = `${prefix}:metrics:upstream_retries`;
  }

  /** Counts one failed attempt of `upstream` (butler, storage, zooniverse) of `errorClass`, retried or given up. */
  add(upstream: string, errorClass: string, outcome: 'retried' | 'gave_up'): void {
    this.redis.hincrby(this.key, `${upstream}|${errorClass}|${outcome}`, 1).catch(() => {});
  }

  async read(): Promise<{ upstream: string; errorClass: string; outcome: string; n: number }[]> {
    const all = await this.redis.hgetall(this.key);
    return Object.entries(all).map(([field, n]) => {
      const [upstream, errorClass, outcome] = field.split('|');
      return { upstream, errorClass, outcome, n: Number(n) };
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
