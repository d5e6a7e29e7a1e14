import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { endpoints } from '../support/routes.js';

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
let alienBatch: string;
/** Collections each caller tries to retire or take down whole, so one caller's success does not decide the next one's answer. */
const doomed: Record<'retire' | 'retract', Partial<Record<Who, string>>> = { retire: {}, retract: {} };

beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 2, writeRateLimit: 10_000 });
  for (const w of WHO) if (w !== 'anon') tokens[w] = await app.bearer(w);
  alienCollection = app.collections.alien;
  const img = await app.s.db.selectFrom('images').select('id').where('collection_id', '=', alienCollection).orderBy('stamp_index').executeTakeFirstOrThrow();
  alienImage = img.id;
  alienBatch = (await app.s.db.selectFrom('batches').select('id').where('collection_id', '=', alienCollection).executeTakeFirstOrThrow()).id;
  for (const purpose of ['retire', 'retract'] as const) {
    for (const w of WHO) {
      const c = await app.s.repos.collections.create({ owner: 'alien', repository: 'dp1', name: `u/alien/${purpose}-${w}`, sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['r'], colour: {}, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600 }, 'alien');
      doomed[purpose][w] = c.id;
    }
  }
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
  path: (who: Who) => string;
  body?: (who: Who) => unknown;
  expect: Record<Who, number>;
}

const OWNER_OR_STAFF = { anon: 401, alien: 200, other: 403, rev: 200, boss: 200 };
const ANY_PI = { anon: 401, alien: 200, other: 200, rev: 200, boss: 200 };
const ADMIN = { anon: 401, alien: 403, other: 403, rev: 403, boss: 200 };
const EVERYONE = { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 };

const MATRIX: Row[] = [
  { name: 'health', method: 'GET', path: () => '/healthz', expect: { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 } },
  { name: 'OpenAPI document', method: 'GET', path: () => '/api/v1/openapi.json', expect: { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 } },
  { name: 'API reference page', method: 'GET', path: () => '/api/v1/docs', expect: { anon: 200, alien: 200, other: 200, rev: 200, boss: 200 } },
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
  { name: 'every image id matching a review filter', method: 'GET', path: () => `/api/v1/review/image-ids?collection=${alienCollection}&decidable=true`, expect: OWNER_OR_STAFF },
  { name: 'renew preview URLs (others\' images are left out, not refused)', method: 'GET', path: () => `/api/v1/review/images/refresh?ids=${alienImage}`, expect: ANY_PI },
  { name: 'why, per collection', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/why`, expect: OWNER_OR_STAFF },
  { name: 'an image rendered in another preset', method: 'GET', path: () => `/api/v1/images/${alienImage}/render?preset=lupton`, expect: OWNER_OR_STAFF },
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
  { name: 'what stopped (failures)', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/failures`, expect: OWNER_OR_STAFF },
  // Results carry private RA/Dec: the owner, delegates and admins only; a reviewer is refused.
  { name: "the volunteers' results", method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: "the volunteers' results as CSV", method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results.csv`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: "the volunteers' results as Parquet", method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results.parquet`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'retry stopped upload batches', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/batches/retry`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'retry one upload batch (unknown here)', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/batches/00000000-0000-4000-8000-000000000000/retry`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'retry failed artifacts', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/artifacts/retry`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'retry one artifact (unknown here)', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/artifacts/00000000-0000-4000-8000-000000000000/retry`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'change upload settings', method: 'PATCH', path: () => `/api/v1/collections/${alienCollection}`, body: () => ({ maxBatchSize: 500 }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'replace the extra-metadata table', method: 'PUT', path: () => `/api/v1/collections/${alienCollection}/extra-metadata`, body: () => ({ csv: 'object,ml_score\n0,0.5\n' }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'record panel approval', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/panel-approval`, body: () => ({ panelApproval: 'none', reason: 'matrix' }), expect: ADMIN },
  { name: 'set a collection\'s publishing delay', method: 'PUT', path: () => `/api/v1/collections/${alienCollection}/publish-delay`, body: () => ({ seconds: 60, reason: 'matrix' }), expect: ADMIN },
  { name: 'publish approved images now (none of these)', method: 'POST', path: () => '/api/v1/review/publish-now', body: () => ({ imageIds: ['00000000-0000-4000-8000-000000000000'], reason: 'matrix' }), expect: ADMIN },
  { name: 'list delegations', method: 'GET', path: () => '/api/v1/delegations', expect: ADMIN },
  { name: 'delegate a prefix', method: 'POST', path: () => '/api/v1/delegations', body: (who) => ({ username: 'other', prefix: `u/team-${who}/` }), expect: { anon: 401, alien: 403, other: 403, rev: 403, boss: 201 } },
  { name: 'queue dashboard', method: 'GET', path: () => '/admin/queues', expect: ADMIN },
  { name: "queue dashboard's write API", method: 'PUT', path: () => '/admin/queues/api/queues/poll/clean/completed', expect: ADMIN },
  { name: 'readiness (details for admins only)', method: 'GET', path: () => '/readyz', expect: EVERYONE },
  { name: 'metrics', method: 'GET', path: () => '/metrics', expect: ADMIN },
  { name: 'the page root', method: 'GET', path: () => '/', expect: { anon: 302, alien: 302, other: 302, rev: 302, boss: 302 } },
  { name: 'the review page (browser sessions only: the rest are sent to sign in)', method: 'GET', path: () => '/review', expect: { anon: 303, alien: 303, other: 303, rev: 303, boss: 303 } },
  { name: "a PI's collections page (browser sessions only)", method: 'GET', path: () => '/pi', expect: { anon: 303, alien: 303, other: 303, rev: 303, boss: 303 } },
  { name: 'the admin page (browser sessions only; its API calls are admin-only)', method: 'GET', path: () => '/admin', expect: { anon: 303, alien: 303, other: 303, rev: 303, boss: 303 } },
  { name: "the page's scripts and styles", method: 'GET', path: () => '/ui/review.css', expect: EVERYONE },
  { name: 'sign-in', method: 'GET', path: () => '/auth/login', expect: { anon: 303, alien: 303, other: 303, rev: 303, boss: 303 } },
  { name: 'sign-in callback without a login in progress', method: 'GET', path: () => '/auth/callback?state=forged&code=x', expect: { anon: 401, alien: 401, other: 401, rev: 401, boss: 401 } },
  { name: 'sign-out', method: 'POST', path: () => '/auth/logout', expect: { anon: 303, alien: 303, other: 303, rev: 303, boss: 303 } },
  { name: 'dev sign-in (absent outside dev mode)', method: 'POST', path: () => '/auth/dev-login', body: () => ({ username: 'mallory', roles: ['admin'] }), expect: { anon: 404, alien: 404, other: 404, rev: 404, boss: 404 } },
  { name: 'a quarantine media link with a forged signature', method: 'GET', path: () => `/media/q/images/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/${'a'.repeat(64)}.png?exp=${Math.floor(Date.now() / 1000) + 600}&sig=${'A'.repeat(43)}`, expect: { anon: 403, alien: 403, other: 403, rev: 403, boss: 403 } },
  { name: 'the public store (nothing unapproved is there)', method: 'GET', path: () => `/public/subjects/aa/bb/${'a'.repeat(64)}.png`, expect: { anon: 404, alien: 404, other: 404, rev: 404, boss: 404 } },
  { name: 'its images for review, by batch', method: 'GET', path: () => `/api/v1/review/images?collection=${alienCollection}&batch=${alienBatch}`, expect: OWNER_OR_STAFF },
  { name: 'approve an image', method: 'POST', path: () => '/api/v1/review/decisions', body: () => ({ imageIds: [alienImage], action: 'approve' }), expect: { anon: 401, alien: 403, other: 403, rev: 200, boss: 403 } },
  { name: 'undo a decision', method: 'POST', path: () => '/api/v1/review/decisions', body: () => ({ imageIds: [alienImage], action: 'undo' }), expect: { anon: 401, alien: 403, other: 403, rev: 200, boss: 403 } },
  { name: 'remove the webhook', method: 'DELETE', path: () => `/api/v1/collections/${alienCollection}/webhook`, expect: { anon: 401, alien: 204, other: 403, rev: 403, boss: 204 } },
  { name: 'retire', method: 'POST', path: (who) => `/api/v1/collections/${doomed.retire[who] ?? doomed.retire.alien}/retire`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'take a whole collection down', method: 'POST', path: () => '/api/v1/retractions', body: (who) => ({ scope: 'collection', collectionId: doomed.retract[who], reason: 'matrix' }), expect: { anon: 401, alien: 200, other: 403, rev: 200, boss: 200 } },
  { name: 'take an upload batch down (none such)', method: 'POST', path: () => '/api/v1/retractions', body: () => ({ scope: 'batch', uploadBatchId: '00000000-0000-4000-8000-000000000000', reason: 'matrix' }), expect: { anon: 401, alien: 404, other: 404, rev: 404, boss: 404 } },
  { name: 'list project bindings', method: 'GET', path: () => '/api/v1/project-bindings', expect: ADMIN },
  { name: 'approve a project binding', method: 'POST', path: () => '/api/v1/project-bindings', body: () => ({ username: 'other', projectId: '77', reason: 'matrix' }), expect: { anon: 401, alien: 403, other: 403, rev: 403, boss: 201 } },
  { name: 'withdraw a project binding', method: 'DELETE', path: () => '/api/v1/project-bindings', body: () => ({ username: 'other', projectId: '77' }), expect: { anon: 401, alien: 403, other: 403, rev: 403, boss: 204 } },
  // Every signed-in user asks for themselves; an admin declines anyone's, a PI withdraws only their own.
  { name: 'ask for a Zooniverse project', method: 'POST', path: () => '/api/v1/project-binding-requests', body: () => ({ projectId: '88', reason: 'matrix' }), expect: { anon: 401, alien: 201, other: 201, rev: 201, boss: 201 } },
  { name: 'my projects and requests', method: 'GET', path: () => '/api/v1/me/project-bindings', expect: ANY_PI },
  { name: 'list project requests', method: 'GET', path: () => '/api/v1/project-binding-requests', expect: ADMIN },
  { name: "decline or withdraw a project request (alien's own; the admin declines other's)", method: 'DELETE', path: () => '/api/v1/project-binding-requests', body: (who) => ({ username: who === 'boss' ? 'other' : 'alien', projectId: '88', reason: 'matrix' }), expect: { anon: 401, alien: 204, other: 403, rev: 403, boss: 204 } },
  { name: "override a collection's release", method: 'POST', path: () => `/api/v1/collections/${doomed.retire.anon}/release`, body: () => ({ release: 'dr1', proprietary: true, embargoHours: 0, reason: 'matrix' }), expect: ADMIN },
  { name: 'preview a collection before registering (own prefix)', method: 'POST', path: () => '/api/v1/collections/preview', body: () => ({ repository: 'dp1', collection: 'u/alien/zoo-review', sourceKind: 'prefix', datasetType: 'zooniverse_cutout', bands: ['g', 'r', 'i'] }), expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 403 } },
  { name: 'send a test event to the webhook (none set: 400 for those allowed)', method: 'POST', path: () => `/api/v1/collections/${doomed.retire.anon}/webhook/test`, expect: { anon: 401, alien: 400, other: 403, rev: 403, boss: 400 } },
  { name: 'download the export (nothing approved: 400 for those allowed)', method: 'GET', path: () => `/api/v1/collections/${doomed.retire.anon}/export`, expect: { anon: 401, alien: 400, other: 403, rev: 403, boss: 400 } },
  { name: 'my events', method: 'GET', path: () => '/api/v1/me/events', expect: ANY_PI },
  { name: 'the release mapping in force', method: 'GET', path: () => '/api/v1/releases', expect: ADMIN },
  { name: 'what stopped in every collection (dead-letter list)', method: 'GET', path: () => '/api/v1/failures', expect: ADMIN },
  { name: 'revoke a delegation (none such)', method: 'DELETE', path: () => '/api/v1/delegations/00000000-0000-4000-8000-000000000000', expect: { anon: 401, alien: 403, other: 403, rev: 403, boss: 404 } },
  // Results rules: the owner and admins only (reviewers oversee review, not what is done with a collection's results). None stored here, so 404 for those allowed.
  { name: 'read the results rules (none stored)', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results/rules`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'store results rules (with a mistake: 422 for those allowed)', method: 'PUT', path: () => `/api/v1/collections/${alienCollection}/results/rules`, body: () => ({ source: 'name: m\nversion: "1"\nrules: []\n' }), expect: { anon: 401, alien: 422, other: 403, rev: 403, boss: 422 } },
  { name: 'dry-run the results rules (none stored)', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/results/rules/dry-run`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'enable the results rules (none stored)', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/results/rules/enable`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'disable the results rules (none stored)', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/results/rules/disable`, expect: { anon: 401, alien: 404, other: 403, rev: 403, boss: 404 } },
  { name: 'the results rules effects ledger', method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results/effects`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'undo a results rule effect (none such)', method: 'POST', path: () => '/api/v1/results/effects/00000000-0000-4000-8000-000000000000/undo', expect: { anon: 401, alien: 404, other: 404, rev: 404, boss: 404 } },  // Caesar's optional path: the owner and admins make the secret; the intake takes only HTTP Basic (collection id + secret), so every caller here is 401.
  { name: "the collection's Caesar endpoint", method: 'GET', path: () => `/api/v1/collections/${alienCollection}/results/caesar`, expect: { anon: 401, alien: 200, other: 403, rev: 403, boss: 200 } },
  { name: 'create or rotate the Caesar secret', method: 'POST', path: () => `/api/v1/collections/${alienCollection}/results/caesar-secret`, expect: { anon: 401, alien: 201, other: 403, rev: 403, boss: 201 } },
  { name: 'switch the Caesar endpoint off', method: 'DELETE', path: () => `/api/v1/collections/${alienCollection}/results/caesar-secret`, expect: { anon: 401, alien: 204, other: 403, rev: 403, boss: 204 } },
  { name: 'a Caesar delivery without HTTP Basic credentials', method: 'POST', path: () => `/api/v1/caesar/collections/${alienCollection}/reductions`, body: () => ({ reducible: { id: '1', type: 'Workflow' }, subject: { id: '1' } }), expect: { anon: 401, alien: 401, other: 401, rev: 401, boss: 401 } },
];

/** The matrix rows that answer for an endpoint as the server registered it (`GET /api/v1/collections/:id`, `USE /ui`, a regex). */
function rowsFor(endpoint: string): Row[] {
  const [method, ...rest] = endpoint.split(' ');
  const path = rest.join(' ');
  const pattern = path.startsWith('^') ? new RegExp(path) : new RegExp(`^${path.replace(/[.*+?${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+')}${method === 'USE' ? '(/|$)' : '$'}`);
  return MATRIX.filter((r) => (method === 'USE' || r.method === method) && pattern.test(r.path('alien').split('?')[0]));
}

describe('authorisation matrix: every endpoint x {anonymous, PI, another PI, reviewer, admin}', () => {
  it('lists every endpoint the server answers: a new route without a row fails here', () => {
    const missing = endpoints(app.server).filter((e) => rowsFor(e).length === 0);
    expect(missing).toEqual([]);
    // And the check itself bites: a route nobody listed is reported.
    expect(rowsFor('GET /api/v1/collections/:id/secret-export')).toEqual([]);
  });

  for (const row of MATRIX) {
    it(`${row.method} ${row.name}`, async () => {
      const got: Record<string, number> = {};
      for (const who of WHO) {
        const res = await call(who, row.method, row.path(who), row.body?.(who));
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

  it('the review listing pages with an opaque cursor: every image once, in order, and a forged cursor is a 400', async () => {
    const s = await call('rev', 'GET', `/api/v1/review/images?collection=${alienCollection}&limit=500`);
    const all = ((await s.json()) as { items: { id: string }[] }).items.map((i) => i.id);
    expect(all.length).toBeGreaterThan(1);
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const res = await call('rev', 'GET', `/api/v1/review/images?collection=${alienCollection}&limit=1${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      const page = (await res.json()) as { items: { id: string }[]; next: string | null };
      seen.push(...page.items.map((i) => i.id));
      next = page.next;
    } while (next);
    expect(seen).toEqual(all);
    const forged = await call('rev', 'GET', `/api/v1/review/images?collection=${alienCollection}&after=${Buffer.from('["x","y",1,"z"]').toString('base64url')}`);
    expect(forged.status).toBe(400);
  });

  it("the queue dashboard's write actions need the CSRF token: from a browser session it is read-only", async () => {
    const s = await app.session('boss');
    const read = await fetch(`${app.url}/admin/queues/api/queues?activeQueue=poll&page=1&jobsPerPage=10`, { headers: { cookie: s.cookie } });
    expect(read.status).toBe(200);
    const write = await fetch(`${app.url}/admin/queues/api/queues/poll/retry/failed`, { method: 'PUT', headers: { cookie: s.cookie } });
    expect(write.status).toBe(403);
    expect(((await write.json()) as { code: string }).code).toBe('csrf_failed');
    const clean = await fetch(`${app.url}/admin/queues/api/queues/poll/clean/completed`, { method: 'PUT', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(clean.status).toBe(200);
  });

  it('crafted non-ASCII secrets of the right length are refused (403), never a server error', async () => {
    const s = await app.session('alien');
    // As many characters as the real token, more bytes: an ASCII-only length check lets it through to timingSafeEqual.
    const forged = `é${s.csrf.slice(1)}`;
    const csrf = await fetch(`${app.url}/api/v1/collections/${alienCollection}/pause`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': forged } });
    expect(csrf.status).toBe(403);
    expect(((await csrf.json()) as { code: string }).code).toBe('csrf_failed');
    const key = `images/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/${'a'.repeat(64)}.png`;
    const media = await fetch(`${app.url}/media/q/${key}?exp=${Math.floor(Date.now() / 1000) + 600}&sig=${encodeURIComponent(`é${'A'.repeat(42)}`)}`);
    expect(media.status).toBe(403);
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
