import { Redis } from 'ioredis';

/**
 * BullMQ needs `maxmemory-policy noeviction`: any other policy lets Redis
 * drop job keys under memory pressure. Returns a warning to log, or null.
 * Managed Redis often forbids CONFIG; then we say we could not check.
 */
export async function evictionPolicyWarning(url: string): Promise<string | null> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await r.connect();
    const res = (await r.config('GET', 'maxmemory-policy')) as string[];
    const policy = res[1];
    return policy === 'noeviction' ? null : `Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" or jobs can silently disappear`;
  } catch (e) {
    return `could not read Redis maxmemory-policy (${(e as Error).message}); make sure it is "noeviction"`;
  } finally {
    r.disconnect();
  }
}
