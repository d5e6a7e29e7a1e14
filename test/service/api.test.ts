import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startApiRole } from '../../src/app/api-server.js';
import { createLogger } from '../../src/app/logger.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { uploadSettingsSchema } from '../../src/api/collections-routes.js';

/** The HTTP API over real HTTP, Redis and PGlite (dev authenticator until identity lands). */
let dir: string;
let redis: LocalRedis;
let s: Services;
let api: { url: string; close(): Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api-test-'));
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

const call = async (method: string, path: string, user?: string, body?: unknown, roles?: string) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (user) headers['x-bridge-dev-user'] = user;
  if (roles) headers['x-bridge-dev-roles'] = roles;
  const r = await fetch(api.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null, requestId: r.headers.get('x-request-id') };
};

const valid = { repository: 'dp1', collection: 'u/alien/zooniverse-1', sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] };

describe('collections API', () => {
  it('refuses anonymous callers with 401 problem+json', async () => {
    const r = await call('GET', '/api/v1/collections');
    expect(r.status).toBe(401);
    expect(r.type).toContain('application/problem+json');
    expect(r.body).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(r.body.requestId).toBe(r.requestId);
  });

  it('invalid registration: 400 naming the field', async () => {
    const r = await call('POST', '/api/v1/collections', 'alien', { ...valid, collection: 'not-a-user-collection' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'validation_failed', field: 'collection' });
    const bad = await call('POST', '/api/v1/collections', 'alien', { ...valid, bands: ['g', 'H'] });
    expect(bad.body.field).toBe('bands.1');
    const extra = await call('POST', '/api/v1/collections', 'alien', { ...valid, surprise: 1 });
    expect(extra.status).toBe(400);
  });

  it("refuses a collection outside u/<caller>/ and a source outside the artifact root", async () => {
    const r = await call('POST', '/api/v1/collections', 'alien', { ...valid, collection: 'u/someoneelse/zoo' });
    expect(r.status).toBe(403);
    expect(r.body.detail).toMatch(/only register collections under u\/alien\//);
    const escape = await call('POST', '/api/v1/collections', 'alien', { ...valid, sourceRoot: '../../etc' });
    expect(escape.status).toBe(400);
    expect(escape.body.field).toBe('sourceRoot');
  });

  it('registers, lists mine, shows counts, refuses duplicates and other PIs, pauses and resumes', async () => {
    const created = await call('POST', '/api/v1/collections', 'alien', valid);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ owner: 'alien', collection: valid.collection, rgb: ['i', 'r', 'g'], status: 'active' });
    const id = created.body.id;
    expect((await call('POST', '/api/v1/collections', 'alien', valid)).status).toBe(409);
    expect((await call('GET', '/api/v1/collections', 'alien')).body.items.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await call('GET', '/api/v1/collections', 'bob')).body.items).toEqual([]);
    expect((await call('GET', `/api/v1/collections/${id}`, 'bob')).status).toBe(403);
    expect((await call('GET', `/api/v1/collections/${id}`, 'rev', undefined, 'reviewer')).status).toBe(200);
    const got = await call('GET', `/api/v1/collections/${id}`, 'alien');
    expect(got.body.counts).toHaveProperty('artifacts');
    expect((await call('POST', `/api/v1/collections/${id}/pause`, 'bob')).status).toBe(403);
    expect((await call('POST', `/api/v1/collections/${id}/pause`, 'alien')).body.status).toBe('paused');
    expect((await call('POST', `/api/v1/collections/${id}/resume`, 'alien')).body.status).toBe('active');
    const page = await call('GET', `/api/v1/collections/${id}/artifacts?limit=5&state=failed`, 'alien');
    expect(page.body).toEqual({ items: [], next: null });
    expect((await call('GET', `/api/v1/collections/${id}/images?limit=9999`, 'alien')).status).toBe(400);
    expect((await call('GET', '/api/v1/collections/not-a-uuid', 'alien')).body.field).toBe('id');
  });
});

describe('dev mode is announced', () => {
  it('on every response (X-Bridge-Mode: dev) and on the review page', async () => {
    for (const path of ['/healthz', '/api/v1/collections', '/nowhere']) expect((await fetch(api.url + path)).headers.get('x-bridge-mode'), path).toBe('dev');
    const { withDevBanner } = await import('../../src/api/review-page.js');
    const { readFileSync } = await import('node:fs');
    const html = readFileSync(join(import.meta.dirname, '../../ui/review.html'), 'utf8');
    expect(withDevBanner(html, true)).toMatch(/<body[^>]*>\s*<div class="dev-banner"[^>]*>DEV MODE \(BRIDGE_MODE=dev\)/);
    expect(withDevBanner(html, false)).toBe(html);
  });
});

describe('operations endpoints', () => {
  it('health, readiness of every dependency, metrics, OpenAPI', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: 'ok', redis: 'ok', storage: 'ok' });
    const metrics = await (await fetch(api.url + '/metrics')).text();
    expect(metrics).toMatch(/bridge_queue_jobs\{queue="poll",state="waiting"\}/);
    const spec = await call('GET', '/api/v1/openapi.json', 'alien');
    expect(spec.body.paths['/collections'].post).toBeDefined();
    // The documented upload settings are exactly the ones the API accepts.
    const documented = Object.keys(spec.body.paths['/collections/{id}'].patch.requestBody.content['application/json'].schema.properties);
    expect(documented.sort()).toEqual(Object.keys(uploadSettingsSchema.shape).sort());
    expect((await call('GET', '/admin/queues', 'alien')).status).toBe(403);
  });
});
