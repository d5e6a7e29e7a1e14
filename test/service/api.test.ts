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

  it('a collection name has one spelling: .., empty segments and trailing slashes are refused before ownership is judged', async () => {
    for (const collection of ['u/alien/../bob/zoo', 'u/alien/./zoo', 'u/alien//zoo', 'u/alien/zoo/', 'u/alien/..']) {
      const r = await call('POST', '/api/v1/collections', 'alien', { ...valid, collection });
      expect(r.status, collection).toBe(400);
      expect(r.body, collection).toMatchObject({ code: 'validation_failed', field: 'collection' });
    }
    // Even an admin, who may register for others, cannot reach another user's tree through `..`.
    const admin = await call('POST', '/api/v1/collections', 'boss', { ...valid, collection: 'u/boss/../alien/zoo' }, 'admin');
    expect(admin.status).toBe(400);
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

describe('collection listing', () => {
  it('comes a page at a time with an opaque cursor, in registration order, and refuses a forged cursor', async () => {
    for (const n of [1, 2, 3]) expect((await call('POST', '/api/v1/collections', 'pager', { ...valid, collection: `u/pager/paged-${n}` })).status).toBe(201);
    const first = await call('GET', '/api/v1/collections?limit=2', 'pager');
    expect(first.body.items.map((c: { collection: string }) => c.collection)).toEqual(['u/pager/paged-1', 'u/pager/paged-2']);
    expect(typeof first.body.next).toBe('string');
    const second = await call('GET', `/api/v1/collections?limit=2&after=${encodeURIComponent(first.body.next)}`, 'pager');
    expect(second.body.items.map((c: { collection: string }) => c.collection)).toEqual(['u/pager/paged-3']);
    expect(second.body.next).toBeNull();
    const forged = await call('GET', '/api/v1/collections?after=not-a-cursor', 'pager');
    expect(forged.status).toBe(400);
    expect(forged.body.field).toBe('after');
    expect((await call('GET', '/api/v1/collections?limit=501', 'pager')).status).toBe(400);
  });
});

describe('framework errors', () => {
  it('an unknown page script and a malformed URL get their 4xx as problem+json, not a 500', async () => {
    const missing = await fetch(api.url + '/ui/js/no-such-module.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await missing.json()).toMatchObject({ code: 'not_found', status: 404 });
    const malformed = await fetch(api.url + '/api/v1/collections/%E0%A4%A', { headers: { 'x-bridge-dev-user': 'alien' } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'bad_request', status: 400 });
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
    // Details of the deployment are for admins: anyone else learns only whether it is ready.
    expect(ready.body).toEqual({ status: 'ready' });
    expect((await call('GET', '/readyz', 'alien')).body).toEqual({ status: 'ready' });
    expect((await call('GET', '/readyz', 'boss', undefined, 'admin')).body.checks).toEqual({ database: 'ok', redis: 'ok', storage: 'ok' });
    expect((await fetch(api.url + '/metrics')).status).toBe(401);
    expect((await call('GET', '/metrics', 'alien')).status).toBe(403);
    const metrics = await (await fetch(api.url + '/metrics', { headers: { 'x-bridge-dev-user': 'boss', 'x-bridge-dev-roles': 'admin' } })).text();
    expect(metrics).toMatch(/bridge_queue_jobs\{queue="poll",state="waiting"\}/);
    // Upload batch states, subjects by ledger state and upstream retries are exported too (empty here).
    expect(metrics).toMatch(/# TYPE bridge_upload_batches gauge/);
    expect(metrics).toMatch(/# TYPE bridge_upload_subjects gauge/);
    expect(metrics).toMatch(/# TYPE bridge_upstream_retries_total counter/);
    const spec = await call('GET', '/api/v1/openapi.json', 'alien');
    expect(spec.body.paths['/collections'].post).toBeDefined();
    // The documented upload settings are exactly the ones the API accepts.
    const documented = Object.keys(spec.body.paths['/collections/{id}'].patch.requestBody.content['application/json'].schema.properties);
    expect(documented.sort()).toEqual(Object.keys(uploadSettingsSchema.shape).sort());
    expect((await call('GET', '/admin/queues', 'alien')).status).toBe(403);
    // The queue dashboard asks nothing of other hosts (bull-board's template loads Google fonts; ours does not).
    const admin = { 'x-bridge-dev-user': 'boss', 'x-bridge-dev-roles': 'admin' };
    const board = await fetch(api.url + '/admin/queues', { headers: admin });
    expect(board.status).toBe(200);
    const boardHtml = await board.text();
    expect(boardHtml).toMatch(/static\/css\/main\.[0-9a-f]+\.css/);
    expect(boardHtml).not.toMatch(/https?:\/\//);
    // The same document as a page a person reads, anonymously, under the strict CSP and with nothing from elsewhere.
    const docs = await fetch(api.url + '/api/v1/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    expect(docs.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await docs.text();
    for (const [path, ops] of Object.entries(spec.body.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) expect(html).toContain(`${m.toUpperCase()} ${path.replaceAll('&', '&amp;')}`);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script/);
    expect(html).toContain('<code>uploadMode</code>');
    expect((await fetch(api.url + '/ui/api-docs.css')).status).toBe(200);
  });
});
