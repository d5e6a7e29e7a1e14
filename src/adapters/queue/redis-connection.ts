import type { ConnectionOptions } from 'bullmq';

/**
 * The one place a Redis URL becomes BullMQ connection options; the queues
 * and the workers of a process share the result. The path is the database
 * index (redis://host:6379/7 is database 7, none is 0), so two deployments
 * can share one Redis server in separate databases; user and password are
 * percent-decoded as in any URL.
 */
export function bullmqConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 6379),
    db: redisDatabase(url),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's workers block on Redis and require this.
    maxRetriesPerRequest: null,
  };
}

/** The database index in a Redis URL's path; throws naming REDIS_URL when the path is not one. */
export function redisDatabase(url: URL): number {
  const path = url.pathname.replace(/^\//, '').replace(/\/$/, '');
  if (path === '') return 0;
  if (!/^\d{1,5}$/.test(path)) throw new Error(`REDIS_URL: the path must be a database index (redis://host:6379/2), not "/${path}"`);
  return Number(path);
}
