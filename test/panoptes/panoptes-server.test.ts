import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ManifestHost, PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble, type PanoptesDoubleOptions } from '../support/panoptes-server.js';

/*
 * The double itself, spoken to with raw fetch: each rule of the contract
 * (shared/reference/zooniverse.md) is enforced, so a client that passes
 * against it sends what the real Panoptes needs.
 */

const ACCEPT = 'application/vnd.api+json; version=1';

let server: PanoptesServerDouble;
let files: ManifestHost;

async function start(opts: PanoptesDoubleOptions = {}) {
  await server?.close();
  server = await PanoptesServerDouble.start(opts);
}

beforeEach(async () => {
  server = await PanoptesServerDouble.start();
  files = await ManifestHost.start();
});
afterEach(async () => {
  await server.close();
  await files.close();
});

async function token(scope = 'public user project subject'): Promise<string> {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: PANOPTES_CLIENT_ID, client_secret: PANOPTES_CLIENT_SECRET, scope }).toString(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

interface Opts {
  body?: unknown;
  token?: string | null;
  accept?: string | null;
  contentType?: string | null;
  ifMatch?: string;
}

async function api(method: string, path: string, o: Opts = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (o.accept !== null) headers.accept = o.accept ?? ACCEPT;
  const t = o.token === undefined ? await token() : o.token;
  if (t) headers.authorization = `Bearer ${t}`;
  if (o.body !== undefined && o.contentType !== null) headers['content-type'] = o.contentType ?? 'application/json';
  if (o.ifMatch) headers['if-match'] = o.ifMatch;
  const res = await fetch(server.url + path, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

function message(r: { json: any }): string {
  return r.json.errors[0].message;
}

async function makeSet(t: string, name = 'cutouts'): Promise<string> {
  const r = await api('POST', '/api/subject_sets', { token: t, body: { subject_sets: { display_name: name, links: { project: '1' } } } });
  expect(r.status).toBe(201);
  return r.json.subject_sets[0].id;
}

function subjectBody(setId: string | undefined, externalId: string, extra: Record<string, unknown> = {}) {
  return {
    subjects: {
      locations: [{ 'image/png': `https://bucket.example/${externalId}.png` }],
      metadata: { '#key': externalId },
      external_id: externalId,
      links: { project: '1', ...(setId ? { subject_sets: [setId] } : {}) },
      ...extra,
    },
  };
}

describe('OAuth token endpoint', () => {
  it('issues bearer tokens for the configured client only, with expires_in', async () => {
    const form = (p: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(p).toString(),
    });
    const good = await fetch(`${server.url}/oauth/token`, form({ grant_type: 'client_credentials', client_id: PANOPTES_CLIENT_ID, client_secret: PANOPTES_CLIENT_SECRET }));
    const body = (await good.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 7200 });

    const bad = await fetch(`${server.url}/oauth/token`, form({ grant_type: 'client_credentials', client_id: PANOPTES_CLIENT_ID, client_secret: 'wrong' }));
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_client' });

    const grant = await fetch(`${server.url}/oauth/token`, form({ grant_type: 'password', client_id: PANOPTES_CLIENT_ID, client_secret: PANOPTES_CLIENT_SECRET }));
    expect(grant.status).toBe(400);

    const scope = await fetch(`${server.url}/oauth/token`, form({ grant_type: 'client_credentials', client_id: PANOPTES_CLIENT_ID, client_secret: PANOPTES_CLIENT_SECRET, scope: 'everything' }));
    expect(scope.status).toBe(400);

    const inUrl = await fetch(`${server.url}/oauth/token?client_secret=${PANOPTES_CLIENT_SECRET}`, form({ grant_type: 'client_credentials', client_id: PANOPTES_CLIENT_ID, client_secret: PANOPTES_CLIENT_SECRET }));
    expect(inUrl.status).toBe(400);
  });

  it('refuses missing, unknown, expired and used-up tokens with 401', async () => {
    expect((await api('GET', '/api/me', { token: null })).status).toBe(401);
    expect((await api('GET', '/api/me', { token: 'made-up' })).status).toBe(401);
    const t = await token();
    expect((await api('GET', '/api/me', { token: t })).status).toBe(200);
    server.expireAllTokens();
    const expired = await api('GET', '/api/me', { token: t });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/invalid_token/);

    await start({ tokenMaxUses: 2 });
    const t2 = await token();
    expect((await api('GET', '/api/me', { token: t2 })).status).toBe(200);
    expect((await api('GET', '/api/me', { token: t2 })).status).toBe(200);
    expect((await api('GET', '/api/me', { token: t2 })).status).toBe(401);

    await start({ tokenTtlSeconds: 0.05 });
    const t3 = await token();
    await new Promise((r) => setTimeout(r, 80));
    expect((await api('GET', '/api/me', { token: t3 })).status).toBe(401);
  });

  it('checks scopes: creating subjects needs subject, sets and imports need project', async () => {
    const t = await token('public user');
    const set = await api('POST', '/api/subject_sets', { token: t, body: { subject_sets: { display_name: 'x', links: { project: '1' } } } });
    expect(set.status).toBe(403);
    const subj = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'a') });
    expect(subj.status).toBe(403);
  });
});

describe('request rules', () => {
  it('answers 404 to any API request without the versioned Accept header', async () => {
    const t = await token();
    expect((await api('GET', '/api/me', { token: t, accept: null })).status).toBe(404);
    expect((await api('GET', '/api/me', { token: t, accept: 'application/json' })).status).toBe(404);
    expect((await api('GET', '/api/me', { token: t, accept: 'application/vnd.api+json' })).status).toBe(404);
    expect((await api('GET', '/api/me', { token: t })).status).toBe(200);
  });

  it('answers 415 to a POST or PUT body that is not JSON', async () => {
    const t = await token();
    const r = await api('POST', '/api/subject_sets', { token: t, contentType: 'text/plain', body: { subject_sets: { display_name: 'x', links: { project: '1' } } } });
    expect(r.status).toBe(415);
    expect(message(r)).toMatch(/Content-Type/);
    const none = await api('POST', '/api/subject_sets', { token: t, contentType: null, body: { subject_sets: { display_name: 'x', links: { project: '1' } } } });
    expect(none.status).toBe(415);
    const vnd = await api('POST', '/api/subject_sets', { token: t, contentType: 'application/vnd.api+json', body: { subject_sets: { display_name: 'x', links: { project: '1' } } } });
    expect(vnd.status).toBe(201);
  });

  it('answers schema violations with 422 and bad JSON with 400, in the errors format', async () => {
    const t = await token();
    const extra = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'a', { colour: 'red' }) });
    expect(extra.status).toBe(422);
    expect(message(extra)).toMatch(/colour/);
    const noLinks = await api('POST', '/api/subjects', { token: t, body: { subjects: { locations: [] } } });
    expect(noLinks.status).toBe(422);
    expect((await api('POST', '/api/subjects', { token: t, body: { subject: {} } })).status).toBe(422);
    expect((await api('POST', '/api/subjects', { token: t, body: '{"subjects":' })).status).toBe(400);
    const project = await api('POST', '/api/subjects', { token: t, body: { subjects: { locations: [], links: { project: '999' } } } });
    expect(project.status).toBe(422);
    expect(message(project)).toMatch(/project/);
    const mime = await api('POST', '/api/subjects', { token: t, body: { subjects: { locations: [{ 'application/x-fits': 'https://x/y.fits' }], links: { project: '1' } } } });
    expect(mime.status).toBe(400);
    expect(server.allSubjects()).toHaveLength(0);
  });

  it('needs If-Match on PUT and DELETE: 428 without, 412 when stale, and ETags on single GETs', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const created = await api('POST', '/api/subjects', { token: t, body: subjectBody(setId, 'a') });
    const id = created.json.subjects[0].id;
    const got = await api('GET', `/api/subjects/${id}`, { token: t });
    const etag = got.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);

    expect((await api('DELETE', `/api/subjects/${id}`, { token: t })).status).toBe(428);
    expect((await api('DELETE', `/api/subjects/${id}`, { token: t, ifMatch: '"0000"' })).status).toBe(412);

    const set = await api('GET', `/api/subject_sets/${setId}`, { token: t });
    const setEtag = set.headers.get('etag')!;
    expect((await api('PUT', `/api/subject_sets/${setId}`, { token: t, body: { subject_sets: { display_name: 'renamed' } } })).status).toBe(428);
    expect((await api('PUT', `/api/subject_sets/${setId}`, { token: t, ifMatch: setEtag, body: { subject_sets: { display_name: 'renamed' } } })).status).toBe(200);
    // The rename changed the set, so the old ETag is stale now.
    expect((await api('PUT', `/api/subject_sets/${setId}`, { token: t, ifMatch: setEtag, body: { subject_sets: { display_name: 'again' } } })).status).toBe(412);

    const before = (await api('GET', '/api/me', { token: t })).json.users[0].uploaded_subjects_count;
    expect((await api('DELETE', `/api/subjects/${id}`, { token: t, ifMatch: etag })).status).toBe(204);
    expect((await api('GET', `/api/subjects/${id}`, { token: t })).status).toBe(404);
    // Deleting does not give the upload back.
    expect((await api('GET', '/api/me', { token: t })).json.users[0].uploaded_subjects_count).toBe(before);
  });
});

describe('subjects and sets', () => {
  it('creates subjects with external links returned unchanged, external_id and set links', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const r = await api('POST', '/api/subjects', {
      token: t,
      body: {
        subjects: {
          locations: [{ 'image/png': 'https://bucket.example/g.png' }, { 'image/jpeg': 'https://bucket.example/r.jpg' }],
          metadata: { '!ra': 150.1, '#hash': 'abc' },
          external_id: 'dp1-1',
          links: { project: 1, subject_sets: [setId] },
        },
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('etag')).toBeTruthy();
    const s = r.json.subjects[0];
    expect(s).toMatchObject({ external_id: 'dp1-1', metadata: { '!ra': 150.1 }, links: { project: '1', subject_sets: [setId] } });
    expect(s.locations).toEqual([{ 'image/png': 'https://bucket.example/g.png' }, { 'image/jpeg': 'https://bucket.example/r.jpg' }]);
    const hosted = await api('POST', '/api/subjects', { token: t, body: { subjects: { locations: ['image/png'], links: { project: '1' } } } });
    expect(hosted.json.subjects[0].locations[0]['image/png']).toMatch(/^https:\/\/panoptes-uploads\..*X-Amz-Signature/);
    expect(server.setMembers(setId)).toEqual([s.id]);
    const set = await api('GET', `/api/subject_sets/${setId}`, { token: t });
    expect(set.json.subject_sets[0].set_member_subjects_count).toBe(1);
  });

  it('enforces the subject limit with 403 and the switch-off with 503', async () => {
    await start({ user: { subjectLimit: 2 } });
    const t = await token();
    expect((await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'a') })).status).toBe(201);
    expect((await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'b') })).status).toBe(201);
    const third = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'c') });
    expect(third.status).toBe(403);
    expect(message(third)).toBe('User has uploaded 2 subjects of 2 maximum');
    expect((await api('GET', '/api/me', { token: t })).json.users[0]).toMatchObject({ subject_limit: 2, uploaded_subjects_count: 2 });

    server.user.subjectLimit = 10;
    server.uploadingDisabled = true;
    const off = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'c') });
    expect(off.status).toBe(503);
    expect(server.allSubjects()).toHaveLength(2);
  });

  it('links: unknown or repeated ids are refused with 422, re-linking is harmless, unlinking needs If-Match', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const ids: string[] = [];
    for (const x of ['a', 'b', 'c']) ids.push((await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, x) })).json.subjects[0].id);
    const path = `/api/subject_sets/${setId}/links/subjects`;
    expect((await api('POST', path, { token: t, body: { subjects: [ids[0], '99999'] } })).status).toBe(422);
    expect(server.setMembers(setId)).toEqual([]);
    expect((await api('POST', path, { token: t, body: { subjects: [ids[0], ids[0]] } })).status).toBe(422);
    expect((await api('POST', path, { token: t, body: { wrong: ids } })).status).toBe(422);
    const linked = await api('POST', path, { token: t, body: { subjects: ids } });
    expect(linked.status).toBe(200);
    expect(linked.json.subject_sets[0].set_member_subjects_count).toBe(3);
    const again = await api('POST', path, { token: t, body: { subjects: ids.slice(0, 2) } });
    expect(again.status).toBe(200);
    expect(again.json.subject_sets[0].set_member_subjects_count).toBe(3);

    const unlink = `${path}/${ids[0]},${ids[1]}`;
    expect((await api('DELETE', unlink, { token: t })).status).toBe(428);
    const etag = (await api('GET', `/api/subject_sets/${setId}`, { token: t })).headers.get('etag')!;
    expect((await api('DELETE', unlink, { token: t, ifMatch: etag })).status).toBe(204);
    expect(server.setMembers(setId)).toEqual([ids[2]]);
    // The subjects themselves stay.
    expect((await api('GET', `/api/subjects/${ids[0]}`, { token: t })).status).toBe(200);
  });

  it('paginates listings with RestPack meta, caps page_size at 100, and ignores filters it does not know', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const other = await makeSet(t, 'other');
    server.seedSubjects(setId, 45);
    server.seedSubjects(other, 3, (i) => `other-${i}`);

    const p1 = await api('GET', `/api/subjects?subject_set_id=${setId}`, { token: t });
    expect(p1.json.subjects).toHaveLength(20);
    expect(p1.json.meta.subjects).toMatchObject({ page: 1, page_size: 20, count: 45, page_count: 3, next_page: 2, previous_page: null });
    expect(p1.json.meta.subjects.next_href).toBe(`/subjects?page=2&subject_set_id=${setId}`);

    const p3 = await api('GET', `/api/subjects?subject_set_id=${setId}&page=3`, { token: t });
    expect(p3.json.subjects).toHaveLength(5);
    expect(p3.json.meta.subjects).toMatchObject({ next_page: null, next_href: null });

    const ids = [...p1.json.subjects, ...(await api('GET', `/api/subjects?subject_set_id=${setId}&page=2`, { token: t })).json.subjects, ...p3.json.subjects].map((s: { id: string }) => Number(s.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(45);

    const big = await api('GET', `/api/subjects?subject_set_id=${setId}&page_size=500`, { token: t });
    expect(big.json.meta.subjects).toMatchObject({ page_size: 100, page_count: 1 });
    expect((await api('GET', `/api/subjects?page_size=0`, { token: t })).status).toBe(422);

    // external_id is not a filter in Panoptes: the listing comes back whole.
    const byExternal = await api('GET', `/api/subjects?subject_set_id=${setId}&external_id=seed-3&page_size=100`, { token: t });
    expect(byExternal.json.subjects).toHaveLength(45);
    const both = await api('GET', `/api/subjects?subject_set_id=${setId},${other}&page_size=100`, { token: t });
    expect(both.json.meta.subjects.count).toBe(48);

    const sets = await api('GET', `/api/subject_sets?project_id=1&display_name=other`, { token: t });
    expect(sets.json.subject_sets.map((s: { id: string }) => s.id)).toEqual([other]);
  });
});

describe('subject set imports', () => {
  async function poll(t: string, id: string, until: (i: any) => boolean): Promise<any> {
    for (let n = 0; n < 200; n++) {
      const r = await api('GET', `/api/subject_set_imports/${id}`, { token: t });
      const i = r.json.subject_set_imports[0];
      if (until(i)) return i;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error('import did not finish');
  }

  it('fetches the manifest, imports in the background, and upserts by external_id on re-import', async () => {
    await start({ importStartDelayMs: 20, importRowDelayMs: 5 });
    const t = await token();
    const setId = await makeSet(t);
    const csv = [
      'external_id,location:g,location:r,metadata:#hash,metadata:!ra',
      'dp1-1,https://bucket.example/1g.png,https://bucket.example/1r.png,h1,150.1',
      'dp1-2,https://bucket.example/2g.png,https://bucket.example/2r.png,h2,150.2',
      '"dp1-3","https://bucket.example/3g.png","https://bucket.example/3r.png","h,3",150.3',
    ].join('\r\n');
    const url = files.put('/manifests/a.csv', csv);
    const created = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: url, links: { subject_set: setId } } } });
    expect(created.status).toBe(201);
    const imp = created.json.subject_set_imports[0];
    expect(imp).toMatchObject({ manifest_count: 3, imported_count: 0, failed_count: 0, progress: 0, source_url: url, links: { subject_set: setId } });
    expect(imp).not.toHaveProperty('state');
    expect(server.importById(imp.id)!.state).toBe('pending');
    await new Promise((r) => setTimeout(r, 30));
    expect(server.importById(imp.id)!.state).toBe('running');

    const done = await poll(t, imp.id, (i) => i.imported_count === 3);
    expect(done).toMatchObject({ imported_count: 3, failed_count: 0, progress: 1 });
    expect(server.importById(imp.id)!.state).toBe('completed');
    const subjects = server.allSubjects();
    expect(subjects.map((s) => s.externalId).sort()).toEqual(['dp1-1', 'dp1-2', 'dp1-3']);
    const third = subjects.find((s) => s.externalId === 'dp1-3')!;
    expect(third.metadata).toEqual({ '#hash': 'h,3', '!ra': '150.3' });
    expect(third.locations).toEqual([{ 'image/png': 'https://bucket.example/3g.png' }, { 'image/png': 'https://bucket.example/3r.png' }]);
    expect(files.fetched).toEqual(['/manifests/a.csv', '/manifests/a.csv']);

    // The same manifest again, one row changed and one added: no duplicates.
    files.put('/manifests/a.csv', `${csv.replace('h2', 'h2-new')}\ndp1-4,https://bucket.example/4g.png,https://bucket.example/4r.png,h4,150.4\n`);
    const again = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: url, links: { subject_set: setId } } } });
    await poll(t, again.json.subject_set_imports[0].id, (i) => i.imported_count === 4);
    expect(server.allSubjects()).toHaveLength(4);
    expect(server.duplicateExternalIds(setId)).toEqual([]);
    expect(server.allSubjects().find((s) => s.externalId === 'dp1-2')!.metadata['#hash']).toBe('h2-new');
    expect(server.setMembers(setId)).toHaveLength(4);
    expect(server.user.uploadedSubjectsCount).toBe(4);
  });

  it('counts rows it cannot import as failed (a URL with a query string has no known extension)', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const url = files.put('m.csv', 'external_id,location:1\nok,https://b.example/ok.png\nsigned,https://b.example/x.png?X-Amz-Signature=abc\n');
    const created = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: url, links: { subject_set: setId } } } });
    // imported_count leaves the failed row out: the import is finished when imported + failed reach manifest_count.
    const done = await poll(t, created.json.subject_set_imports[0].id, (i) => i.imported_count + i.failed_count === i.manifest_count);
    expect(done.imported_count).toBe(1);
    expect(done.failed_count).toBe(1);
    expect(server.importById(done.id)!.failedUuids).toEqual(['signed']);
    expect(server.allSubjects().map((s) => s.externalId)).toEqual(['ok']);
  });

  it('refuses manifests over 10,000 rows (403), unreachable ones and bad links (422)', async () => {
    const t = await token();
    const setId = await makeSet(t);
    const rows = Array.from({ length: 10_001 }, (_, i) => `r${i},https://b.example/${i}.png`);
    const big = files.put('big.csv', `external_id,location:1\n${rows.join('\n')}\n`);
    const r = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: big, links: { subject_set: setId } } } });
    expect(r.status).toBe(403);
    expect(message(r)).toBe('Manifest row count (10001) exceeds the limit (10000) and can not be imported');

    const exact = files.put('exact.csv', `external_id,location:1\n${rows.slice(0, 10_000).join('\n')}\n`);
    const fine = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: exact, links: { subject_set: setId } } } });
    expect(fine.status).toBe(201);
    expect(fine.json.subject_set_imports[0].manifest_count).toBe(10_000);

    const missing = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: `${files.url}/nope.csv`, links: { subject_set: setId } } } });
    expect(missing.status).toBe(422);
    expect(message(missing)).toMatch(/Failed to download manifest/);
    expect((await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: 'ftp://x/y.csv', links: { subject_set: setId } } } })).status).toBe(422);
    expect((await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: exact, links: { subject_set: '424242' } } } })).status).toBe(422);
    expect((await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: exact } } })).status).toBe(422);
  });

  it('an import whose worker dies stays short of manifest_count', async () => {
    const t = await token();
    const setId = await makeSet(t);
    server.faults.push({ route: 'importWorker', kind: 'abort-import', afterRows: 2 });
    const url = files.put('m.csv', `external_id,location:1\n${Array.from({ length: 6 }, (_, i) => `e${i},https://b.example/${i}.png`).join('\n')}\n`);
    const created = await api('POST', '/api/subject_set_imports', { token: t, body: { subject_set_imports: { source_url: url, links: { subject_set: setId } } } });
    const id = created.json.subject_set_imports[0].id;
    await server.importById(id)!.done;
    expect(server.importById(id)!.state).toBe('failed');
    const seen = (await api('GET', `/api/subject_set_imports/${id}`, { token: t })).json.subject_set_imports[0];
    expect(seen.imported_count).toBeLessThan(seen.manifest_count);
    expect(server.allSubjects()).toHaveLength(2);
  });
});

describe('fault injection', () => {
  it('commit-then-504 commits the subject and answers 504; reset drops the connection before anything happens', async () => {
    const t = await token();
    server.faults.push({ route: 'createSubject', kind: 'commit-then-504' });
    const r = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'a') });
    expect(r.status).toBe(504);
    expect(server.allSubjects().map((s) => s.externalId)).toEqual(['a']);

    server.faults.push({ route: 'createSubject', kind: 'reset' });
    await expect(api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'b') })).rejects.toThrow();
    expect(server.allSubjects()).toHaveLength(1);

    server.faults.push({ route: 'createSubject', kind: 'commit-then-reset' });
    await expect(api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'b') })).rejects.toThrow();
    expect(server.allSubjects()).toHaveLength(2);

    server.faults.push({ route: 'createSubject', kind: 'status', status: 429, retryAfter: 3 });
    const limited = await api('POST', '/api/subjects', { token: t, body: subjectBody(undefined, 'c') });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(server.allSubjects()).toHaveLength(2);

    server.faults.push({ route: 'getSubject', kind: 'status', status: 502, times: 2, skip: 1 });
    const id = server.allSubjects()[0].id;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api('GET', `/api/subjects/${id}`, { token: t })).status);
    expect(statuses).toEqual([200, 502, 502, 200]);
    expect(server.requestsTo('getSubject').map((q) => q.fault)).toEqual([undefined, 'status', 'status', undefined]);
    expect(server.duplicateExternalIds()).toEqual([]);
  });

  it('rate-based faults are deterministic for a seed', async () => {
    const pattern = async () => {
      await start();
      const t = await token();
      server.faults.push({ route: 'me', kind: 'status', status: 503, rate: 0.3, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 30; i++) out.push((await api('GET', '/api/me', { token: t })).status);
      return out;
    };
    const a = await pattern();
    const b = await pattern();
    expect(a).toEqual(b);
    const failures = a.filter((s) => s === 503).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(20);
  });

  it('expire-token kills the token the request carries', async () => {
    const t = await token();
    server.faults.push({ route: 'me', kind: 'expire-token' });
    expect((await api('GET', '/api/me', { token: t })).status).toBe(401);
    expect((await api('GET', '/api/me', { token: t })).status).toBe(401);
    expect((await api('GET', '/api/me')).status).toBe(200);
  });
});
