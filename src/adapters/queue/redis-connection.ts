import type { ConnectionOptions } from 'bullmq';

/**
 * The one place a Redis URL becomes BullMQ connection options; the queues
 * and the workers of a process share the result.
 *
 * The database index in the URL path (redis://host:6379/2) is ignored for
 * now, so every bridge uses database 0 whatever its URL says; honouring it
 * means setting `db` here, and nowhere else.
 */
export function bullmqConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username || undefined,
    password: url.password || undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's workers block on Redis and require this.
    maxRetriesPerRequest: null,
  };
}
