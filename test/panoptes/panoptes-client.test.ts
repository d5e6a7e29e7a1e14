import { describe, expect, it } from 'vitest';

import { PanoptesHttpClient, type PanoptesHttpClientOptions } from '../../src/adapters/panoptes/panoptes-client.js';
import { NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from '../../src/domain/errors.js';
import { AmbiguousRequestError, SubjectLimitError, type NewSubject, type PanoptesSubject } from '../../src/domain/ports/panoptes-client.js';
import { ManifestHost, PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET } from '../support/panoptes-server.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { failure } from '../support/failure.js';

const double = panoptesDoublePerTest();

function client(extra: Partial<PanoptesHttpClientOptions> = {}) {
  const sleeps: number[] = [];
  const c = new PanoptesHttpClient({
    baseUrl: double.server.url,
    clientId: PANOPTES_CLIENT_ID,
    clientSecret: PANOPTES_CLIENT_SECRET,
    baseDelayMs: 5,
    maxDelayMs: 40,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 20)));
    },
    ...extra,
  });
  return { c, sleeps };
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function newSubject(setId: string, externalId: string): NewSubject {
  return {
    projectId: '1',
    subjectSetIds: [setId],
    locations: [{ 'image/png': `https://bucket.example/${externalId}-g.png` }, { 'image/png': `https://bucket.example/${externalId}-r.png` }],
    metadata: { '#bridge_key': externalId, '!ra': 150.25 },
    externalId,
  };
}

describe('requests on the wire', () => {
  it('sends the versioned Accept header, the bearer token, JSON bodies, and keeps the secret out of URLs', async () => {
    const { c } = client();
    const me = await c.me();
    expect(me).toEqual({ id: '1', login: 'rubin-epo-bridge', subjectLimit: 10_000, uploadedSubjectsCount: 0 });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 'DP1 cutouts', metadata: { '#run': 'u/alien/1' } });
    expect(set).toMatchObject({ projectId: '1', displayName: 'DP1 cutouts', metadata: { '#run': 'u/alien/1' }, setMemberSubjectsCount: 0 });
    expect(await c.getProject('1')).toMatchObject({ id: '1', displayName: 'Rubin Test Project' });

    const [tokenReq, ...apiReqs] = double.server.requests;
    expect(tokenReq.route).toBe('token');
    expect(tokenReq.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(tokenReq.body).get('grant_type')).toBe('client_credentials');
    expect(new URLSearchParams(tokenReq.body).get('scope')).toBe('public user project subject');
    for (const r of double.server.requests) expect(r.url).not.toContain(PANOPTES_CLIENT_SECRET);
    for (const r of apiReqs) {
      expect(r.headers.accept).toBe('application/vnd.api+json; version=1');
      expect(r.headers.authorization).toMatch(/^Bearer dbl\./);
      if (r.method === 'POST') expect(r.headers['content-type']).toBe('application/json');
    }
    expect(double.server.tokensIssued).toBe(1);
  });

  it('sends If-Match with the ETag of the GET just before a DELETE', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    const s = await c.createSubject(newSubject(set.id, 'a'));
    expect(await c.deleteSubject(s.id)).toBe('deleted');
    const [get, del] = double.server.requests.slice(-2);
    expect(get.route).toBe('getSubject');
    expect(del.route).toBe('deleteSubject');
    expect(del.headers['if-match']).toMatch(/^"[0-9a-f]{32}"$/);
    expect(del.status).toBe(204);
    expect(await c.deleteSubject(s.id)).toBe('absent');
    // Deletes do not refund the upload count.
    expect((await c.me()).uploadedSubjectsCount).toBe(1);
  });

  it('validates ids and locations before sending anything', async () => {
    const { c } = client();
    await expect(c.getSubject('abc')).rejects.toBeInstanceOf(ValidationError);
    await expect(c.createSubject({ projectId: '1', locations: [], metadata: {} })).rejects.toBeInstanceOf(ValidationError);
    await expect(c.createSubject({ projectId: '1', locations: [{ 'image/png': 'a', 'image/jpeg': 'b' }], metadata: {} })).rejects.toBeInstanceOf(ValidationError);
    await expect(all(c.findSubjects({ externalIds: ['x'] }))).rejects.toBeInstanceOf(ValidationError);
    expect(double.server.requests).toHaveLength(0);
  });
});

describe('tokens', () => {
  it('replaces the token before it expires, by its own clock, without meeting a 401', async () => {
    let now = Date.now();
    const { c } = client({ now: () => now });
    await c.me();
    now += 7200_000 - 301_000; // just outside the 5-minute margin
    await c.me();
    expect(double.server.tokensIssued).toBe(1);
    now += 2_000; // inside it
    await c.me();
    expect(double.server.tokensIssued).toBe(2);
    expect(double.server.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('uses 10% of a short lifetime as the margin', async () => {
    await double.restart({ tokenTtlSeconds: 100 });
    let now = Date.now();
    const { c } = client({ now: () => now });
    await c.me();
    now += 89_000;
    await c.me();
    expect(double.server.tokensIssued).toBe(1);
    now += 2_000;
    await c.me();
    expect(double.server.tokensIssued).toBe(2);
  });

  it('recovers from a token that dies mid-run (401) without losing or repeating the request', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'createSubject', kind: 'expire-token' });
    const s = await c.createSubject(newSubject(set.id, 'a'));
    expect(double.server.requestsTo('createSubject').map((r) => r.status)).toEqual([401, 201]);
    expect(double.server.allSubjects().map((x) => x.id)).toEqual([s.id]);
    expect(double.server.tokensIssued).toBe(2);

    double.server.expireAllTokens();
    expect((await c.getSubject(s.id)).externalId).toBe('a');
    expect(double.server.tokensIssued).toBe(3);
  });

  it('keeps going when every token dies after a few requests, sharing one token fetch among concurrent calls', async () => {
    await double.restart({ tokenMaxUses: 3 });
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    for (let i = 0; i < 10; i++) await c.createSubject(newSubject(set.id, `e${i}`));
    expect(double.server.allSubjects()).toHaveLength(10);
    expect(double.server.duplicateExternalIds()).toEqual([]);

    await double.restart({});
    const fresh = client().c;
    await Promise.all(Array.from({ length: 8 }, () => fresh.me()));
    expect(double.server.tokensIssued).toBe(1);
  });

  it('retries a token endpoint that is briefly down, and gives up on tokens that are refused as soon as issued', async () => {
    const { c } = client();
    double.server.faults.push({ route: 'token', kind: 'status', status: 503 });
    await c.me();
    expect(double.server.requestsTo('token').map((r) => r.status)).toEqual([503, 200]);

    await double.restart({ tokenMaxUses: 0 });
    const e = await failure(client().c.me());
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toMatch(/freshly issued token/);
    expect(double.server.requestsTo('me').map((r) => r.status)).toEqual([401, 401]);
  });

  it('reports refused credentials as refused, naming neither secret nor token', async () => {
    const { c } = client({ clientSecret: 'not-the-secret' });
    const e = await failure(c.me());
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toMatch(/client credentials/);
    expect(e.message).not.toContain('not-the-secret');
  });
});

describe('retries', () => {
  it('honours Retry-After on 429', async () => {
    const { c } = client({ sleep: undefined });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'getSubjectSet', kind: 'status', status: 429, retryAfter: 1 });
    const t0 = performance.now();
    await c.getSubjectSet(set.id);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(3000);
    expect(double.server.requestsTo('getSubjectSet').map((r) => r.status)).toEqual([429, 200]);
  });

  it('reads Retry-After as an HTTP date too, and leaves long pauses to the job layer', async () => {
    const { c, sleeps } = client({ maxRetryAfterMs: 60_000 });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'getSubjectSet', kind: 'status', status: 503, retryAfter: new Date(Date.now() + 30_000).toUTCString() });
    await c.getSubjectSet(set.id);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(25_000);
    expect(sleeps[0]).toBeLessThanOrEqual(30_000);

    double.server.faults.push({ route: 'getSubjectSet', kind: 'status', status: 503, retryAfter: 3600 });
    const e = await failure(c.getSubjectSet(set.id));
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).retryAfterMs).toBe(3_600_000);
    expect(double.server.requestsTo('getSubjectSet').at(-1)!.status).toBe(503);
  });

  it('retries a GET on 502 and on a dropped connection, with backoff', async () => {
    const { c, sleeps } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'getSubjectSet', kind: 'status', status: 502, times: 2 }, { route: 'getSubjectSet', kind: 'reset' });
    expect((await c.getSubjectSet(set.id)).id).toBe(set.id);
    expect(double.server.requestsTo('getSubjectSet').map((r) => r.status)).toEqual([502, 502, 0, 200]);
    expect(sleeps).toEqual([2, 5, 10]);
  });

  it('gives up after maxAttempts with an UpstreamError', async () => {
    const { c } = client({ maxAttempts: 3 });
    double.server.faults.push({ route: 'me', kind: 'status', status: 502, times: 10 });
    const e = await failure(c.me());
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).not.toBeInstanceOf(AmbiguousRequestError);
    expect(e.message).toMatch(/3 attempts.*502/);
    expect(double.server.requestsTo('me')).toHaveLength(3);
  });

  it('retries a create that Panoptes refused before acting on it (429, 503)', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'createSubject', kind: 'status', status: 429, retryAfter: 0 }, { route: 'createSubject', kind: 'status', status: 503 });
    const s = await c.createSubject(newSubject(set.id, 'a'));
    expect(double.server.requestsTo('createSubject').map((r) => r.status)).toEqual([429, 503, 201]);
    expect(double.server.allSubjects().map((x) => x.id)).toEqual([s.id]);
  });
});

describe('creates whose outcome is unknown', () => {
  it('does not resend POST /subjects after a 504 that followed the commit; findSubjects finds the subject', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push({ route: 'createSubject', kind: 'commit-then-504' });
    const e = await failure(c.createSubject(newSubject(set.id, 'dp1-42')));
    expect(e).toBeInstanceOf(AmbiguousRequestError);
    expect((e as AmbiguousRequestError).operation).toBe('createSubject');
    expect(e.message).toMatch(/504/);
    expect(double.server.requestsTo('createSubject')).toHaveLength(1);

    const found = await all(c.findSubjects({ subjectSetId: set.id, externalIds: ['dp1-42'] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ externalId: 'dp1-42', subjectSetIds: [set.id], metadata: { '#bridge_key': 'dp1-42' } });
    expect(found[0].locations).toEqual(newSubject(set.id, 'dp1-42').locations);
    expect(double.server.duplicateExternalIds()).toEqual([]);
  });

  it('treats a connection lost after sending, a 500/502 and a timeout as ambiguous too', async () => {
    const { c } = client({ requestTimeoutMs: 300 });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    const cases: [string, Parameters<typeof double.server.faults.push>[0], boolean][] = [
      ['reset-before', { route: 'createSubject', kind: 'reset' }, false],
      ['reset-after', { route: 'createSubject', kind: 'commit-then-reset' }, true],
      ['502-after', { route: 'createSubject', kind: 'commit-then-status', status: 502 }, true],
      ['500-after', { route: 'createSubject', kind: 'commit-then-status', status: 500 }, true],
      ['stall-after', { route: 'createSubject', kind: 'commit-then-stall', ms: 1000 }, true],
    ];
    for (const [key, fault, committed] of cases) {
      double.server.faults.push(fault);
      const before = double.server.requestsTo('createSubject').length;
      await expect(c.createSubject(newSubject(set.id, key))).rejects.toBeInstanceOf(AmbiguousRequestError);
      expect(double.server.requestsTo('createSubject').length - before).toBe(1);
      expect(await all(c.findSubjects({ subjectSetId: set.id, externalIds: [key] }))).toHaveLength(committed ? 1 : 0);
    }
  });

  it('sets and imports are not resent either', async () => {
    const { c } = client();
    double.server.faults.push({ route: 'createSubjectSet', kind: 'commit-then-504' });
    const e = await failure(c.createSubjectSet({ projectId: '1', displayName: 'DP1 run 7' }));
    expect(e).toBeInstanceOf(AmbiguousRequestError);
    expect((e as AmbiguousRequestError).operation).toBe('createSubjectSet');
    const sets = await c.findSubjectSets({ projectId: '1', displayName: 'DP1 run 7' });
    expect(sets).toHaveLength(1);
    expect(double.server.requestsTo('createSubjectSet')).toHaveLength(1);
  });

  it('an upload loop that reconciles before resending ends with every subject exactly once under random faults', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.faults.push(
      { route: 'createSubject', kind: 'commit-then-504', rate: 0.2, seed: 42 },
      { route: 'createSubject', kind: 'reset', rate: 0.1, seed: 7 },
      { route: 'createSubject', kind: 'status', status: 503, rate: 0.1, seed: 9 },
      { route: 'listSubjects', kind: 'status', status: 502, rate: 0.2, seed: 3 },
    );
    const keys = Array.from({ length: 40 }, (_, i) => `dp1-${i}`);
    const done = new Map<string, string>();
    for (const key of keys) {
      for (let attempt = 0; !done.has(key); attempt++) {
        if (attempt > 20) throw new Error(`gave up on ${key}`);
        try {
          done.set(key, (await c.createSubject(newSubject(set.id, key))).id);
        } catch (e) {
          if (!(e instanceof AmbiguousRequestError)) throw e;
          const [existing] = await all(c.findSubjects({ subjectSetId: set.id, externalIds: [key] }));
          if (existing) done.set(key, existing.id);
        }
      }
    }
    expect(double.server.faults.reduce((n, f) => n + (f.fired ?? 0), 0)).toBeGreaterThan(5);
    expect(double.server.allSubjects()).toHaveLength(40);
    expect(double.server.duplicateExternalIds(set.id)).toEqual([]);
    expect(new Set(done.values()).size).toBe(40);
  });
});

describe('links', () => {
  it('links 250 subjects in chunks of 100, dropping repeats', async () => {
    const { c } = client();
    const source = double.server.seedSubjectSet({ displayName: 'source' });
    const ids = double.server.seedSubjects(source.id, 250).map((s) => s.id);
    const target = await c.createSubjectSet({ projectId: '1', displayName: 'target' });
    await c.linkSubjects(target.id, [...ids, ids[0], ids[1]]);
    const sent = double.server.requestsTo('linkSubjects').map((r) => (JSON.parse(r.body) as { subjects: string[] }).subjects);
    expect(sent.map((s) => s.length)).toEqual([100, 100, 50]);
    expect(sent.flat()).toEqual(ids);
    expect(double.server.setMembers(target.id)).toEqual(ids);
    expect((await c.getSubjectSet(target.id)).setMemberSubjectsCount).toBe(250);
    // Again: harmless.
    await c.linkSubjects(target.id, ids.slice(0, 10));
    expect(double.server.setMembers(target.id)).toHaveLength(250);
  });

  it('reloads the set and retries after a 409', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    const other = double.server.seedSubjectSet({ displayName: 'o' });
    const ids = double.server.seedSubjects(other.id, 3).map((s) => s.id);
    double.server.faults.push({ route: 'linkSubjects', kind: 'status', status: 409 });
    await c.linkSubjects(set.id, ids);
    expect(double.server.requests.slice(-3).map((r) => [r.route, r.status])).toEqual([
      ['linkSubjects', 409],
      ['getSubjectSet', 200],
      ['linkSubjects', 200],
    ]);
    expect(double.server.setMembers(set.id)).toEqual(ids);
  });

  it('reports an unknown id as refused with Panoptes\' message', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    const e = await failure(c.linkSubjects(set.id, ['424242']));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toMatch(/HTTP 422.*check the subject set and all the subjects exist/);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(1);
  });

  it('unlinks with If-Match, re-reading the set when it changed in between', async () => {
    const { c } = client();
    const set = double.server.seedSubjectSet({ displayName: 's' });
    const ids = double.server.seedSubjects(set.id, 5).map((s) => s.id);
    double.server.faults.push({ route: 'unlinkSubjects', kind: 'status', status: 412 });
    await c.unlinkSubjects(set.id, ids.slice(0, 2));
    expect(double.server.setMembers(set.id)).toEqual(ids.slice(2));
    const unlinks = double.server.requestsTo('unlinkSubjects');
    expect(unlinks.map((r) => r.status)).toEqual([412, 204]);
    expect(unlinks[1].path).toBe(`/api/subject_sets/${set.id}/links/subjects/${ids[0]},${ids[1]}`);
    expect(unlinks[1].headers['if-match']).toBeTruthy();
  });
});

describe('errors', () => {
  it('maps the subject limit to SubjectLimitError with its numbers, without retrying', async () => {
    await double.restart({ user: { subjectLimit: 3, uploadedSubjectsCount: 3 } });
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    const e = await failure(c.createSubject(newSubject(set.id, 'a')));
    expect(e).toBeInstanceOf(SubjectLimitError);
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect((e as SubjectLimitError).uploaded).toBe(3);
    expect((e as SubjectLimitError).limit).toBe(3);
    expect(e.message).toMatch(/User has uploaded 3 subjects of 3 maximum/);
    expect(double.server.requestsTo('createSubject')).toHaveLength(1);
  });

  it('uploading switched off is an UpstreamError to retry later, not ambiguous', async () => {
    const { c } = client({ maxAttempts: 2 });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
    double.server.uploadingDisabled = true;
    const e = await failure(c.createSubject(newSubject(set.id, 'a')));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).not.toBeInstanceOf(AmbiguousRequestError);
    expect(e.message).toMatch(/503.*temporarily disabled/);
    expect(double.server.allSubjects()).toHaveLength(0);
  });

  it('maps 404 to NotFoundError and 422 to a refusal carrying the message', async () => {
    const { c } = client();
    await expect(c.getSubjectSet('999999')).rejects.toBeInstanceOf(NotFoundError);
    const e = await failure(c.createSubject({ projectId: '77', locations: [{ 'image/png': 'https://x/y.png' }], metadata: {} }));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect((e as UpstreamRefusedError).detail).toMatchObject({ status: 422 });
    expect(e.message).toMatch(/Couldn't find linked project/);
  });
});

describe('listings', () => {
  it('pages through more than 100 subjects in id order and matches external_id and metadata itself', async () => {
    const { c } = client();
    const set = double.server.seedSubjectSet({ displayName: 's' });
    const seeded = double.server.seedSubjects(set.id, 230);
    const other = double.server.seedSubjectSet({ displayName: 'o' });
    double.server.seedSubjects(other.id, 5);

    const listed = await all(c.findSubjects({ subjectSetId: set.id }));
    expect(listed.map((s) => s.id)).toEqual(seeded.map((s) => s.id));
    const pages = double.server.requestsTo('listSubjects');
    // Pages 2 and 3 are read ahead, at once: they may arrive in either order.
    expect(pages.map((r) => r.query.get('page')).sort()).toEqual(['1', '2', '3']);
    expect(pages.every((r) => r.query.get('page_size') === '100' && r.query.get('subject_set_id') === set.id)).toBe(true);

    const some = await all(c.findSubjects({ subjectSetId: set.id, externalIds: ['seed-5', 'seed-200', 'nope'] }));
    expect(some.map((s: PanoptesSubject) => s.externalId)).toEqual(['seed-5', 'seed-200']);
    const byMeta = await all(c.findSubjects({ subjectSetId: set.id, metadata: { '#i': 17 } }));
    expect(byMeta.map((s) => s.externalId)).toEqual(['seed-17']);
    const byIds = await all(c.findSubjects({ ids: [seeded[3].id, seeded[150].id] }));
    expect(byIds.map((s) => s.id)).toEqual([seeded[3].id, seeded[150].id]);
    expect((await all(c.findSubjects({ projectId: '1' }))).length).toBe(235);
  });

  it('asks for the next pages while the caller reads one, and still gives every item in order', async () => {
    const { c } = client();
    const set = double.server.seedSubjectSet({ displayName: 'ahead' });
    const seeded = double.server.seedSubjects(set.id, 1_050);
    const listing = c.findSubjects({ subjectSetId: set.id })[Symbol.asyncIterator]();
    const first = await listing.next();
    expect(first.value?.id).toBe(seeded[0].id);
    // The caller has read one item of page 1; pages 2-4 are already asked for (three ahead), page 5 not yet.
    await new Promise((r) => setTimeout(r, 150));
    expect(double.server.requestsTo('listSubjects').map((r) => r.query.get('page')).sort()).toEqual(['1', '2', '3', '4']);
    const rest: string[] = [];
    for (let n = await listing.next(); !n.done; n = await listing.next()) rest.push(n.value.id);
    expect([first.value!.id, ...rest]).toEqual(seeded.map((s) => s.id));
    // Each page asked for once (pages read ahead may arrive in any order).
    expect(double.server.requestsTo('listSubjects').map((r) => Number(r.query.get('page'))).sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });

  it('a page read ahead that fails fails the listing where that page is reached, after the pages before it', async () => {
    const { c } = client({ maxAttempts: 1 });
    const set = double.server.seedSubjectSet({ displayName: 'ahead-fail' });
    double.server.seedSubjects(set.id, 650);
    // Page 3 is refused (404 is not retried).
    double.server.faults.push({ route: 'listSubjects', kind: 'status', status: 404, skip: 2 });
    const seen: string[] = [];
    const read = (async () => {
      for await (const s of c.findSubjects({ subjectSetId: set.id })) seen.push(s.id);
    })();
    await expect(read).rejects.toBeInstanceOf(NotFoundError);
    expect(seen).toHaveLength(200);
  });

  it('finds sets by project and exact display name', async () => {
    const { c } = client();
    for (let i = 0; i < 3; i++) await c.createSubjectSet({ projectId: '1', displayName: `run ${i}` });
    expect((await c.findSubjectSets({ projectId: '1' })).map((s) => s.displayName)).toEqual(['run 0', 'run 1', 'run 2']);
    expect((await c.findSubjectSets({ projectId: '1', displayName: 'run 1' })).map((s) => s.displayName)).toEqual(['run 1']);
  });
});

describe('imports', () => {
  it('starts an import, follows it to completion, and finds it by set', async () => {
    const files = await ManifestHost.start();
    try {
      await double.restart({ importRowDelayMs: 2 });
      const { c } = client();
      const set = await c.createSubjectSet({ projectId: '1', displayName: 's' });
      // 60 rows: Panoptes reports progress every 25 rows at this size.
      const rows = Array.from({ length: 60 }, (_, i) => `dp1-${i},https://bucket.example/${i}.png,${i}`);
      const url = files.put('/m/1.csv', `external_id,location:1,metadata:#i\n${rows.join('\n')}\n`);
      const started = await c.createSubjectSetImport({ subjectSetId: set.id, sourceUrl: url });
      expect(started).toMatchObject({ subjectSetId: set.id, sourceUrl: url, manifestCount: 60, importedCount: 0, state: 'pending' });
      const states = new Set<string>();
      let cur = started;
      for (let n = 0; n < 500 && cur.state !== 'completed'; n++) {
        await new Promise((r) => setTimeout(r, 5));
        cur = await c.getSubjectSetImport(started.id);
        states.add(cur.state);
      }
      expect(cur).toMatchObject({ state: 'completed', importedCount: 60, failedCount: 0, progress: 1 });
      expect(states.has('running')).toBe(true);
      expect((await c.findSubjectSetImports({ subjectSetId: set.id })).map((i) => i.id)).toEqual([started.id]);
      expect(await all(c.findSubjects({ subjectSetId: set.id, externalIds: ['dp1-59'] }))).toHaveLength(1);

      const e = await failure(c.createSubjectSetImport({ subjectSetId: set.id, sourceUrl: `${files.url}/missing.csv` }));
      expect(e).toBeInstanceOf(UpstreamRefusedError);
      expect(e.message).toMatch(/Failed to download manifest/);
    } finally {
      await files.close();
    }
  });
});

describe('tolerant in what it accepts', () => {
  it('fields the bridge does not use (created_at, updated_at, links) may be missing from every resource', async () => {
    const { c } = client();
    double.server.faults.push({ kind: 'omit-fields', fields: ['created_at', 'updated_at', 'links', 'href'], rate: 1 });
    const set = await c.createSubjectSet({ projectId: '1', displayName: 'no dates' });
    expect(set).toMatchObject({ displayName: 'no dates', createdAt: null, updatedAt: null });
    const made = await c.createSubject(newSubject(set.id, 'no-dates-1'));
    expect(made).toMatchObject({ externalId: 'no-dates-1', createdAt: null });
    expect((await all(c.findSubjects({ subjectSetId: set.id, externalIds: ['no-dates-1'] }))).map((s) => s.id)).toEqual([made.id]);
    expect((await c.getSubjectSet(set.id)).displayName).toBe('no dates');
  });

  it('an import whose manifest_count is not known yet is not finished', async () => {
    const { c } = client();
    const body = (manifest: number | null, imported: number, failed: number) => ({ subject_set_imports: [{ id: '77', source_url: 'https://bucket.example/m.csv', imported_count: imported, manifest_count: manifest, failed_count: failed, links: { subject_set: '5' } }] });
    double.server.faults.push({ route: 'getImport', kind: 'replace-body', body: body(null, 0, 0) });
    expect(await c.getSubjectSetImport('77')).toMatchObject({ manifestCount: null, state: 'pending', progress: 0, updatedAt: null });
    // Finished when imported_count + failed_count reaches manifest_count (Panoptes' serializer): not before.
    double.server.faults.push({ route: 'getImport', kind: 'replace-body', body: body(10, 7, 2) });
    expect(await c.getSubjectSetImport('77')).toMatchObject({ state: 'running', importedCount: 7, failedCount: 2 });
    double.server.faults.push({ route: 'getImport', kind: 'replace-body', body: body(10, 8, 2) });
    expect(await c.getSubjectSetImport('77')).toMatchObject({ state: 'completed', progress: 1 });
  });

  it('a resource missing what the bridge needs is a refusal with the reason, asked once, not retried without end', async () => {
    const { c } = client();
    const set = await c.createSubjectSet({ projectId: '1', displayName: 'broken' });
    const before = double.server.requests.filter((r) => r.route === 'getSubjectSet').length;
    double.server.faults.push({ route: 'getSubjectSet', kind: 'replace-body', body: { subject_sets: [{ id: set.id }] } });
    const e = await failure(c.getSubjectSet(set.id));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toMatch(/sent a subject_sets resource this client cannot read: .*display_name/s);
    expect(double.server.requests.filter((r) => r.route === 'getSubjectSet').length).toBe(before + 1);
  });
});
