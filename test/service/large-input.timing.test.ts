import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * A large upload must not hold up the API's other requests. Timed, so it runs
 * in the serial timing run (vitest.timing.config.ts), never beside other files.
 */
let api: DevApi;
beforeAll(async () => {
  api = await startDevApi();
});
afterAll(async () => {
  await api?.close();
});

const valid = { repository: 'dp1', collection: 'u/alien/zooniverse-1', sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] };

describe('large inputs', () => {
  it('an 8 MB extra-metadata table is refused (413) while /healthz keeps answering quickly', async () => {
    const created = await api.call('POST', '/api/v1/collections', 'alien', { ...valid, collection: 'u/alien/large-table' });
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
