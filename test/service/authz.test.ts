import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';

/**
 * Who may do what, for every endpoint: anonymous, the PI who owns the
 * collection (alien), another PI (other), an EPO reviewer (rev, who also
 * owns a collection) and an admin (boss). Identities are real bearer tokens
 * from the test OIDC provider, verified by the bridge against its JWKS.
 */
type Who = 'anon' | 'alien' | 'other' | 'rev' | 'boss';
const WHO: Who[] = ['anon', 'alien', 'other', 'rev', 'boss'];

let app: BridgeApp;
const tokens: Partial<Record<Who, string>> = {};
let alienImage: string;
let alienCollection: string;

beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 2, writeRateLimit: 10_000 });
  for (const w of WHO) if (w !== 'anon') tokens[w] = await app.bearer(w);
  alienCollection = app.collections.alien;
  const img = await app.s.db.selectFrom('images').select('id').where('collection_id', '=', alienCollection).orderBy('stamp_index').executeTakeFirstOrThrow();
  alienImage = img.id;
}, 120_000);
afterAll(async () => {
  await app?.close();
});

/** A body given as `{ csv }` goes as text/csv; anything else as JSON. */
async function call(who: Who, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (who !== 'anon') headers.authorization = `Bearer ${tokens[who]}`;
  const csv = typeof body === 'object' && body !== null && 'csv' in body ? String((body as { csv: unknown }).csv) : undefined;
  if (body !== undefined) headers['content-type'] = csv !== undefined ? 'text/csv' : 'application/json';
  return fetch(`${app.url}${path}`, { method, headers, body: body === undefined ? undefined : (csv ?? JSON.stringify(body)), redirect: 'manual' });
}

interface Row {
  name: string;
  method: string;
  path: () => string;
  body?: (who: Who) => unknown;
  expect: Record<Who, number>;
}

const OWNER_OR_STAFF = { anon: 401, alien: 200, other: 403, rev: 200, boss: 200 };
const ANY_PI = { anon: 401, alien: 200, other: 200, rev: 200, boss: 200 };
const ADMIN = { anon: 401, alien: 403, other: 403, rev: 403, boss: 200 };

const MATRIX: Row[] = [
  { name: 'health', method: 'GET', path: () => '/healthz', expect: { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 } },
  { name: 'OpenAPI document', method: 'GET', path: () => '/api/v1/openapi.json', expect: { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 } },
  { name: 'who am I', method: 'GET', path: () => '/api/v1/me', expect: ANY_PI },
  { name: 'list collections', method: 'GET', path: () => '/api/v1/collections', expect: ANY_PI },
  {
    name: 'register under u/alien/',
    method: 'POST',
    path: () => '/api/v1/collections',
    body: (who) => ({ repository: 'dp1', collection: `u/alien/matrix-${who}`, datasetType: 'zooniverse_cutout' }),
    // Not even an admin registers for someone else: the registrant is the owner (separation of duties).
    expect: { anon: 401, alien: 201, other: 403, rev: 403, boss: 403 },
  },
  { name: 'read a collection', method: 'GET', path: () => `/api/v1/collections/${alienCollection}`, expect: OWNER_OR_STAFF },
  { name: 'its artifacts', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/artifacts`, expect: OWNER_OR_STAFF },
  { name: 'its images', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/images`, expect: OWNER_OR_STAFF },
  { name: 'its audit log', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/audit`, expect: OWNER_OR_STAFF },
  { name: 'its review batches', method: 'GET', path: () => `/api/v1/review/batches?collection=${alienCollection}`, expect: OWNER_OR_STAFF },
  { name: 'its images for review', method: 'GET', path: () => `/api/v1/review/images?collection=${alienCollection}`, expect: OWNER_OR_STAFF },
  { name: 'review queue (filtered to what one may see)', method: 'GET', path: () => '/api/v1/review/images', expect: ANY_PI },
  { name: "an image's audit trail", method: 'GET', path: () => `/api/v1/images/${alienImage}/audit`, expect: OWNER_OR_STAFF },
  { name: 'pause', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/pause`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'resume', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/resume`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  {
    name: 'decide on an image',
    method: 'POST',
    path: () => '/api/v1/review/decisions',
    body: () => ({ imageIds: [alienImage], action: 'reject', reason: 'matrix' }),
    expect: { anon: 401, alien: 403, other: 403, rev: 200, boss: 403 },
  },
  { name: 'take images down', method: 'POST', path: () => '/api/v1/retractions', body: () => ({ scope: 'images', imageIds: [alienImage], reason: 'matrix' }), expect: { anon: 401, alien: 200, other: 403, rev: 200, boss: 200 } },
  { name: 'events', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/events`, expect: OWNER_OR_STAFF },
  { name: 'set the webhook', method: 'PUT', path: () => `/api/v1/collections/${alienCollection}/webhook`, body: () => ({ url: 'https://hooks.example.org/bridge' }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'upload progress', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/uploads`, expect: OWNER_OR_STAFF },
  { name: 'change upload settings', method: 'PATCH', path: () => `/api/v1/collections/${alienCollection}`, body: () => ({ maxBatchSize: 500 }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'replace the extra-metadata table', method: 'PUT', path: () => `/api/v1/collections/${alienCollection}/extra-metadata`, body: () => ({ csv: 'object,ml_score\n0,0.5\n' }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'record panel approval', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/panel-approval`, body: () => ({ panelApproval: 'none', reason: 'matrix' }), expect: ADMIN },
  { name: 'list delegations', method: 'GET', path: () => '/api/v1/delegations', expect: ADMIN },
  { name: 'delegate a prefix', method: 'POST', path: () => '/api/v1/delegations', body: (who) => ({ username: 'other', prefix: `u/team-${who}/` }), expect: { anon: 401, alien: 403, other: 403, rev: 403, boss: 201 } },
  { name: 'queue dashboard', method: 'GET', path: () => '/admin/queues', expect: ADMIN },
];

describe('authorisation matrix: every endpoint x {anonymous, PI, another PI, reviewer, admin}', () => {
  for (const row of MATRIX) {
    it(`${row.method} ${row.name}`, async () => {
      const got: Record<string, number> = {};
      for (const who of WHO) {
        const res = await call(who, row.method, row.path(), row.body?.(who));
        got[who] = res.status;
        await res.arrayBuffer();
      }
      expect(got).toEqual(row.expect);
    });
  }

  it('a reviewer cannot decide on images of their own collection', async () => {
    const own = await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.rev).executeTakeFirstOrThrow();
    const res = await call('rev', 'POST', '/api/v1/review/decisions', { imageIds: [own.id], action: 'approve' });
    const body = (await res.json()) as { results: { ok: boolean; error: string }[] };
    expect(body.results[0].ok).toBe(false);
    expect(body.results[0].error).toMatch(/your own collection/);
    const img = await app.s.db.selectFrom('images').select('state').where('id', '=', own.id).executeTakeFirstOrThrow();
    expect(img.state).toBe('quarantined');
  });

  it('a PI cannot register u/someoneelse/..., and is told which prefix is theirs', async () => {
    const res = await call('other', 'POST', '/api/v1/collections', { repository: 'dp1', collection: 'u/alien/stolen' });
    const body = (await res.json()) as { detail: string; field: string };
    expect(res.status).toBe(403);
    expect(body.field).toBe('collection');
    expect(body.detail).toMatch(/u\/other\//);
  });

  it('a delegated prefix lets a PI register outside u/<own name>/, as the owner', async () => {
    const res = await call('other', 'POST', '/api/v1/collections', { repository: 'dp1', collection: 'u/team-boss/survey-1' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { owner: string }).owner).toBe('other');
  });

  it('a PI sees only their own collections; reviewers see all', async () => {
    const names = async (who: Who) => ((await (await call(who, 'GET', '/api/v1/collections')).json()) as { items: { owner: string }[] }).items.map((c) => c.owner);
    expect(new Set(await names('alien'))).toEqual(new Set(['alien']));
    expect(new Set(await names('rev'))).toEqual(new Set(['alien', 'rev', 'other']));
  });

  it("an admin cannot register a collection for someone else (and then review it as not theirs); through a delegation to themselves they own it", async () => {
    for (const name of ['u/alien/planted', 'u/rev/planted']) {
      const res = await call('boss', 'POST', '/api/v1/collections', { repository: 'dp1', collection: name });
      expect(res.status, name).toBe(403);
      expect(((await res.json()) as { field: string }).field).toBe('collection');
    }
    expect(await app.s.db.selectFrom('collections').select('id').where('name', 'like', '%/planted').execute()).toEqual([]);
    // An admin delegating a prefix to themselves becomes the owner, and the owner never decides.
    expect((await call('boss', 'POST', '/api/v1/delegations', { username: 'boss', prefix: 'u/alien-survey/' })).status).toBe(201);
    const own = await call('boss', 'POST', '/api/v1/collections', { repository: 'dp1', collection: 'u/alien-survey/one' });
    expect(own.status).toBe(201);
    expect(((await own.json()) as { owner: string }).owner).toBe('boss');
  });
});

describe('tokens', () => {
  it('with an identity provider the dev headers are ignored and the dev sign-in does not exist (404)', async () => {
    const forged = { 'x-bridge-dev-user': 'boss', 'x-bridge-dev-roles': 'admin,reviewer' };
    expect((await fetch(`${app.url}/api/v1/me`, { headers: forged })).status).toBe(401);
    expect((await fetch(`${app.url}/api/v1/delegations`, { headers: forged })).status).toBe(401);
    const dev = await fetch(`${app.url}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=boss&roles=admin', redirect: 'manual' });
    expect(dev.status).toBe(404);
    expect(dev.headers.get('set-cookie') ?? '').not.toMatch(/bridge_session=[^;]/);
  });

  it('an ID token sent as a bearer token is refused with 401', async () => {
    const { idToken } = await app.op.loginWithFetch('boss', 'web');
    const res = await fetch(`${app.url}/api/v1/me`, { headers: { authorization: `Bearer ${idToken}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(await res.text()).not.toContain(idToken);
  });

  it('an expired token is refused with a reason and WWW-Authenticate', async () => {
    const t = await app.op.tokenFor('alien', { audience: app.op.apiAudience, expiresIn: -60 });
    const res = await fetch(`${app.url}/api/v1/me`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const body = await res.text();
    expect(body).toMatch(/expired/);
    expect(body).not.toContain(t);
  });

  it("a token from a foreign issuer, or for another audience, is refused", async () => {
    const foreign = await app.op.signJwt({ iss: 'https://evil.example', sub: 'boss', aud: app.op.apiAudience, exp: Math.floor(Date.now() / 1000) + 600 }, { signer: 'foreign' });
    const wrongAud = await app.op.tokenFor('boss', { audience: 'someone-else' });
    for (const t of [foreign, wrongAud]) {
      const res = await fetch(`${app.url}/api/v1/delegations`, { headers: { authorization: `Bearer ${t}` } });
      expect(res.status).toBe(401);
    }
  });
});

describe('quarantine is private', () => {
  it('no public path reaches a quarantined image; a signed media URL works only as signed and only for a while', async () => {
    const img = await app.s.db.selectFrom('images').select(['quarantine_key', 'id']).where('id', '=', alienImage).executeTakeFirstOrThrow();
    for (const p of [`/public/${img.quarantine_key}`, `/public/../quarantine/${img.quarantine_key}`, `/quarantine/${img.quarantine_key}`, `/media/q/${img.quarantine_key}`]) {
      const res = await fetch(`${app.url}${p}`);
      expect([403, 404]).toContain(res.status);
    }
    const list = (await (await call('rev', 'GET', `/api/v1/review/images?collection=${alienCollection}`)).json()) as { items: { id: string; previewUrl: string }[] };
    const url = list.items.find((i) => i.id === alienImage)!.previewUrl;
    const ok = await fetch(`${app.url}${url}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(ok.headers.get('cache-control')).toMatch(/^private/);
    const tampered = url.replace(/sig=./, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A'));
    expect((await fetch(`${app.url}${tampered}`)).status).toBe(403);
    const expired = url.replace(/exp=\d+/, 'exp=1000');
    expect((await fetch(`${app.url}${expired}`)).status).toBe(403);
  });

  it('another PI gets no preview URL for the owner\'s images', async () => {
    const res = await call('other', 'GET', `/api/v1/review/images?collection=${alienCollection}`);
    expect(res.status).toBe(403);
    const mine = (await (await call('other', 'GET', '/api/v1/review/images')).json()) as { items: { owner: string }[] };
    expect(mine.items.every((i) => i.owner === 'other')).toBe(true);
  });
});

describe('browser sessions', () => {
  it('state-changing requests need the CSRF token; security headers are set', async () => {
    const s = await app.session('alien');
    const without = await fetch(`${app.url}/api/v1/collections/${alienCollection}/pause`, { method: 'POST', headers: { cookie: s.cookie } });
    expect(without.status).toBe(403);
    expect(((await without.json()) as { code: string }).code).toBe('csrf_failed');
    const withToken = await fetch(`${app.url}/api/v1/collections/${alienCollection}/resume`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(withToken.status).toBe(200);

    const page = await fetch(`${app.url}/review`, { headers: { cookie: s.cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain('<meta name="csrf-token"');
  });

  it('the session cookie is httpOnly and SameSite=Lax; a callback not started in this browser is refused', async () => {
    const start = await fetch(`${app.url}/auth/login?returnTo=/review`, { redirect: 'manual' });
    expect(start.status).toBe(303);
    const callback = await app.op.authorize(start.headers.get('location')!, 'alien');
    // Replayed in a browser that did not start the login (no login-state cookie):
    const stranger = await fetch(callback, { redirect: 'manual' });
    expect(stranger.status).toBe(401);
    expect(stranger.headers.get('set-cookie') ?? '').not.toMatch(/bridge_session=[^;]/);

    const s = await app.session('alien');
    expect(s.cookie).toMatch(/bridge_session=/);
    const again = await fetch(`${app.url}/auth/login?returnTo=//evil.example/`, { redirect: 'manual' });
    expect(again.status).toBe(303);
    const cookies = again.headers.getSetCookie().join('\n');
    expect(cookies).toMatch(/bridge_login_state=[^;]+;.*HttpOnly/i);
    expect(cookies).toMatch(/SameSite=Lax/i);
  });

  it('no secret or token reached the logs', async () => {
    const all = app.logs.join('');
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of ['test-session-secret-0123456789abcdef-not-for-production', app.op.clients.web.clientSecret, ...Object.values(tokens)]) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('rate limits', () => {
  let small: BridgeApp;
  beforeAll(async () => {
    small = await startBridgeApp({ owners: [], loginRateLimit: 3, writeRateLimit: 4 });
  }, 120_000);
  afterAll(async () => {
    await small?.close();
  });

  it('login attempts and writes are limited per minute with 429 and RateLimit headers; reads are not', async () => {
    const logins = [];
    for (let i = 0; i < 4; i++) logins.push((await fetch(`${small.url}/auth/login`, { redirect: 'manual' })).status);
    expect(logins).toEqual([303, 303, 303, 429]);

    const t = await small.bearer('alien');
    const headers = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
    const writes = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${small.url}/api/v1/collections`, { method: 'POST', headers, body: JSON.stringify({ repository: 'dp1', collection: `u/alien/rate-${i}` }) });
      writes.push(r.status);
      if (r.status === 429) {
        expect(r.headers.get('ratelimit-policy') ?? r.headers.get('ratelimit')).toBeTruthy();
        expect(((await r.json()) as { code: string }).code).toBe('too_many_requests');
      }
    }
    expect(writes).toEqual([201, 201, 201, 201, 429]);
    // Another user has their own allowance; reads are never limited.
    const other = await small.bearer('other');
    expect((await fetch(`${small.url}/api/v1/collections`, { method: 'POST', headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' }, body: JSON.stringify({ repository: 'dp1', collection: 'u/other/rate' }) })).status).toBe(201);
    for (let i = 0; i < 6; i++) expect((await fetch(`${small.url}/api/v1/collections`, { headers })).status).toBe(200);
  });

  it('request bodies are capped', async () => {
    const t = await small.bearer('rev');
    const r = await fetch(`${small.url}/api/v1/review/decisions`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds: [], action: 'approve', reason: 'x'.repeat(100_000) }) });
    expect(r.status).toBe(413);
  });
});
