import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startApiRole } from '../../src/app/api-server.js';
import { createLogger } from '../../src/app/logger.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';

/**
 * A large upload must not hold up the API's other requests. Timed, so it runs
 * in the serial timing run (vitest.timing.config.ts), never beside other files.
 */
let dir: string;
let redis: LocalRedis;
let s: Services;
let api: { url: string; close(): Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'large-input-'));
  redis = await startLocalRedis();
  s = await buildServices(loadConfig({ BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), ARTIFACT_ROOT: join(dir, 'artifacts'), REDIS_URL: redis.url }), { log: createLogger('silent') });
  api = await startApiRole(s, 0);
});
afterAll(async () => {
  await api?.close();
  await s?.close();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

const valid = { repository: 'dp1', collection: 'u/alien/zooniverse-1', sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] };

async function register(user: string, body: unknown) {
  const r = await fetch(api.url + '/api/v1/collections', { method: 'POST', headers: { 'content-type': 'application/json', 'x-bridge-dev-user': user }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { id: string } };
}

describe('large inputs', () => {
  it('an 8 MB extra-metadata table is refused (413) while /healthz keeps answering quickly', async () => {
    const created = await register('alien', { ...valid, collection: 'u/alien/large-table' });
    expect(created.status).toBe(201);
    const big = ['object,note', ...Array.from({ length: 160_000 }, (_, i) => `${i},${'x'.repeat(45)}`)].join('\n');
    expect(big.length).toBeGreaterThan(8_000_000);
    // Encoded up front: the test process also hosts the API, so the client's own work must not be what is measured.
    const body = Buffer.from(big);
    const times: number[] = [];
    let done = false;
    // Warmed up first (connection, JIT), so the first sample measures the server, not the client's start.
    await fetch(api.url + '/healthz');
    const poll = (async () => {
      while (!done) {
        const t = performance.now();
        await fetch(api.url + '/healthz');
        times.push(performance.now() - t);
      }
    })();
    const res = await fetch(`${api.url}/api/v1/collections/${created.body.id}/extra-metadata`, { method: 'PUT', headers: { 'x-bridge-dev-user': 'alien', 'content-type': 'text/csv' }, body });
    done = true;
    await poll;
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'too_large' });
    times.sort((a, b) => a - b);
    expect(times[Math.floor(times.length * 0.99)]).toBeLessThan(250);
  });
});
