import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ButlerServerSource, parseButlerCursor, utcMsToTaiNsec, type ButlerServerSourceOptions } from '../../src/adapters/butler/butler-client.js';
import { UpstreamError, UpstreamRefusedError } from '../../src/domain/errors.js';
import type { DatasetRef } from '../../src/domain/ports/butler-source.js';
import { ButlerServerDouble, DOUBLE_TOKEN, OTHER_TOKEN, makeZip, taiNsecOf, type SeedDataset } from '../support/butler-server.js';
import { failure } from '../support/failure.js';

const RUN = 'u/alien/zooniverse-1';
const DT = 'zooniverse_cutout';
const REPO = 'dp1';
const DAY = 86_400_000;
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: ButlerServerDouble;

beforeEach(async () => {
  server = await ButlerServerDouble.start({ repository: REPO, pageSize: 2, keepAliveMs: 50 });
});
afterEach(async () => {
  await server.close();
});

function dataset(i: number, ingestDate: Date, extra: Partial<SeedDataset> = {}): SeedDataset {
  return {
    id: randomUUID(),
    datasetType: DT,
    run: RUN,
    dataId: { band: 'gri'[i % 3], skymap: 'hsc_rings_v1', tract: 9813 + Math.floor(i / 3), patch: 42 },
    ingestDate,
    bytes: new Uint8Array(randomBytes(3000 + i)),
    ...extra,
  };
}

function seedOld(n: number): SeedDataset[] {
  const ds = Array.from({ length: n }, (_, i) => dataset(i, new Date(Date.now() - 2 * DAY + i * 1000)));
  server.seed(...ds);
  return ds;
}

function client(extra: Partial<ButlerServerSourceOptions> = {}) {
  const sleeps: number[] = [];
  const source = new ButlerServerSource({
    baseUrl: server.url,
    token: () => DOUBLE_TOKEN,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    userAgent: 'bridge-test/1.0',
    random: () => 0.5,
    ...extra,
  });
  return { source, sleeps };
}

async function list(source: ButlerServerSource, after?: string, collection = RUN, datasetType = DT): Promise<DatasetRef[]> {
  const out: DatasetRef[] = [];
  for await (const r of source.listDatasets({ repository: REPO, collection, datasetType, after })) out.push(r);
  return out;
}

function maxCursor(refs: DatasetRef[]): string {
  return refs.reduce((m, r) => (r.cursor > m ? r.cursor : m), '');
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

describe('ButlerServerSource.listDatasets', () => {
  it('streams pages with keep-alives in between and yields every ref in cursor order', async () => {
    const ds = seedOld(5);
    server.pageDelayMs = 400; // longer than the read timeout: only keep-alives keep the stream alive
    const { source } = client({ readTimeoutMs: 250 });
    const refs = await list(source);

    expect(sorted(refs.map((r) => r.id))).toEqual(sorted(ds.map((d) => d.id)));
    expect(server.keepAlivesSent).toBeGreaterThanOrEqual(18);
    expect(server.count('all_datasets')).toBe(1);
    for (let i = 1; i < refs.length; i++) expect(refs[i].cursor >= refs[i - 1].cursor).toBe(true);
    const first = refs.find((r) => r.id === ds[0].id)!;
    expect(first).toMatchObject({ datasetType: DT, run: RUN, dataId: { band: 'g', skymap: 'hsc_rings_v1', tract: 9813, patch: 42 } });
    expect(typeof first.dataId.tract).toBe('number');
  });

  it('sends every field of the request model, and the headers the server expects', async () => {
    seedOld(1);
    const { source } = client();
    await list(source);
    const req = server.requests.find((r) => r.route === 'all_datasets')!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/api/butler/repo/dp1/v1/query/all_datasets');
    expect(JSON.parse(req.body)).toEqual({
      collections: [RUN],
      name: [DT],
      find_first: true,
      data_id: {},
      default_data_id: {},
      where: '',
      bind: {},
      limit: null,
      with_dimension_records: false,
    });
    expect(req.headers.authorization).toBe(`Bearer ${DOUBLE_TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('bridge-test/1.0');
    expect(req.headers['x-butler-client-request-id']).toMatch(UUID4);
  });

  it('gives each request its own uuid4 request id', async () => {
    seedOld(1);
    const { source } = client();
    server.failNext(2, { status: 503, retryAfter: 0 });
    await list(source);
    const ids = server.requests.map((r) => r.headers['x-butler-client-request-id']);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(UUID4);
  });

  it('an empty collection lists nothing', async () => {
    server.addCollection(RUN);
    server.addDatasetType(DT);
    expect(await list(client().source)).toEqual([]);
  });

  it('after a cursor, yields only datasets ingested since, filtering on the server', async () => {
    const old = seedOld(4);
    let now = Date.now();
    const lookback = 60 * 60_000;
    const { source } = client({ now: () => now, cursorLookbackMs: lookback });
    const first = await list(source);
    expect(sorted(first.map((r) => r.id))).toEqual(sorted(old.map((d) => d.id)));
    const cursor = maxCursor(first);
    const watermark = parseButlerCursor(cursor);
    expect(watermark).toBe(now);

    now += 60_000;
    const fresh = [dataset(10, new Date(now - 30_000)), dataset(11, new Date(now - 20_000))];
    server.seed(...fresh);
    const second = await list(source, cursor);
    expect(sorted(second.map((r) => r.id))).toEqual(sorted(fresh.map((d) => d.id)));
    expect(second.every((r) => r.cursor > cursor || parseButlerCursor(r.cursor) === watermark)).toBe(true);

    const body = server.requests.filter((r) => r.route === 'all_datasets')[1].body;
    expect(JSON.parse(body).where).toBe('ingest_date > :after');
    // The literal is daf_butler's DateTimeColumnLiteral, nsec as an exact JSON integer.
    const nsec = /"bind":\{"after":\{"expression_type":"datetime","nsec":(\d+)\}\}/.exec(body)?.[1];
    expect(nsec).toBeDefined();
    expect(BigInt(nsec!)).toBe(taiNsecOf(new Date(watermark - lookback)));
  });

  it('only the last ref of a listing moves the watermark, so a listing cut short is listed again', async () => {
    const old = seedOld(5);
    const { source } = client();
    const refs = await list(source);
    // The caller committed the first two refs and crashed.
    const resumed = await list(source, maxCursor(refs.slice(0, 2)));
    expect(sorted(resumed.map((r) => r.id))).toEqual(sorted(old.map((d) => d.id)));
    // Once the last one is committed, the old datasets are behind the watermark.
    expect(await list(source, maxCursor(refs))).toEqual([]);
  });

  it('re-lists datasets inside the lookback window (at-least-once; the caller drops known ids)', async () => {
    const recent = dataset(0, new Date(Date.now() - 10 * 60_000));
    server.seed(recent);
    const withLookback = client({ cursorLookbackMs: 60 * 60_000 }).source;
    const cursor = maxCursor(await list(withLookback));
    expect((await list(withLookback, cursor)).map((r) => r.id)).toEqual([recent.id]);
    const without = client({ cursorLookbackMs: 0 }).source;
    expect(await list(without, cursor)).toEqual([]);
  });

  it('property: polls interleaved with ingests and crashes never lose a dataset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ newDatasets: fc.integer({ min: 0, max: 4 }), commit: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 5 }),
        async (polls) => {
          const double = await ButlerServerDouble.start({ pageSize: 3, keepAliveMs: 0 });
          try {
            double.addCollection(RUN);
            double.addDatasetType(DT);
            let now = Date.now() - DAY;
            const source = new ButlerServerSource({ baseUrl: double.url, token: () => DOUBLE_TOKEN, now: () => now, cursorLookbackMs: 0, sleep: async () => {} });
            const seen = new Set<string>();
            const all: string[] = [];
            let cursor: string | undefined;
            const poll = async (commit: number) => {
              const refs: DatasetRef[] = [];
              for await (const r of source.listDatasets({ repository: 'dp1', collection: RUN, datasetType: DT, after: cursor })) refs.push(r);
              const kept = refs.slice(0, commit);
              for (const r of kept) seen.add(r.id);
              const m = maxCursor(kept);
              if (m && (!cursor || m > cursor)) cursor = m;
            };
            for (const p of polls) {
              for (let i = 0; i < p.newDatasets; i++) {
                now += 1000;
                const d = dataset(i, new Date(now));
                double.seed(d);
                all.push(d.id);
              }
              now += 1000;
              await poll(p.commit); // a crash after `commit` refs
            }
            now += 1000;
            await poll(Number.MAX_SAFE_INTEGER);
            expect([...seen].sort()).toEqual([...all].sort());
          } finally {
            await double.close();
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('an error line is a refusal that names the collection and carries the detail', async () => {
    seedOld(1);
    const { source } = client();
    const e = await failure(list(source, undefined, 'u/alien/no-such-run'));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain("'u/alien/no-such-run'");
    expect(e.message).toContain("No collection with name 'u/alien/no-such-run' found.");
    expect((e as UpstreamRefusedError).detail).toMatchObject({ errorType: 'missing_collection' });
    expect(server.count('all_datasets')).toBe(1);

    const t = await failure(list(source, undefined, RUN, 'no_such_type'));
    expect(t).toBeInstanceOf(UpstreamRefusedError);
    expect(t.message).toContain("Dataset type 'no_such_type' is not registered");
    expect((t as UpstreamRefusedError).detail).toMatchObject({ errorType: 'missing_dataset_type' });
  });

  it.each([
    [503, 5],
    [429, 1],
  ])('honours Retry-After on %i', async (status, seconds) => {
    const ds = seedOld(3);
    const { source, sleeps } = client();
    server.failNext(2, { status, retryAfter: seconds, route: 'all_datasets' });
    const refs = await list(source);
    expect(refs).toHaveLength(ds.length);
    expect(sleeps).toEqual([seconds * 1000, seconds * 1000]);
    expect(server.count('all_datasets')).toBe(3);
  });

  it('retries a reset connection and 5xx with capped exponential backoff and full jitter', async () => {
    const ds = seedOld(3);
    const { source, sleeps } = client({ baseDelayMs: 400, maxDelayMs: 1000, random: () => 0.5 });
    server.resetNextConnection({ route: 'all_datasets' });
    server.failNext(1, { status: 502, route: 'all_datasets' });
    server.failNext(1, { status: 500, route: 'all_datasets' });
    server.failNext(1, { status: 503, route: 'all_datasets' }); // no Retry-After: backoff too
    const refs = await list(source);
    expect(refs).toHaveLength(ds.length);
    // 0.5 * min(1000, 400 * 2^(n-1))
    expect(sleeps).toEqual([200, 400, 500, 500]);
  });

  it('jitter spans [0, cap): never more than the capped exponential', async () => {
    seedOld(1);
    const { source, sleeps } = client({ baseDelayMs: 500, maxDelayMs: 30_000, random: () => 0.999999, maxAttempts: 6 });
    server.failNext(5, { status: 500, route: 'all_datasets' });
    await list(source);
    expect(sleeps).toEqual([499, 999, 1999, 3999, 7999]);
  });

  it('gives up after maxAttempts with an UpstreamError naming the last failure', async () => {
    seedOld(1);
    const { source, sleeps } = client({ maxAttempts: 4 });
    server.failNext(4, { status: 503, retryAfter: 2, route: 'all_datasets' });
    const e = await failure(list(source));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).not.toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('after 4 attempts');
    expect(e.message).toContain('overloaded');
    expect((e as UpstreamError).retryAfterMs).toBe(2000);
    expect(sleeps).toHaveLength(3);
    expect(server.count('all_datasets')).toBe(4);
  });

  it('a Retry-After longer than maxDelayMs goes back to the job layer at once', async () => {
    seedOld(1);
    const { source, sleeps } = client({ maxDelayMs: 30_000 });
    server.failNext(1, { status: 503, retryAfter: 120 });
    const e = await failure(list(source));
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).retryAfterMs).toBe(120_000);
    expect(sleeps).toEqual([]);
    expect(server.count('all_datasets')).toBe(1);
  });

  it('a stream that stalls past the read timeout without keep-alives is a failure', async () => {
    seedOld(3);
    server.keepAliveMs = 0;
    server.pageDelayMs = 400;
    const { source } = client({ readTimeoutMs: 100, maxAttempts: 2 });
    const e = await failure(list(source));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.message).toMatch(/sent nothing for|did not answer within/);
  });

  it('a stream cut mid-line (connection destroyed) is retried, never a short success', async () => {
    const ds = seedOld(5);
    server.truncateNextStream();
    const { source } = client();
    const refs = await list(source);
    expect(sorted(refs.map((r) => r.id))).toEqual(sorted(ds.map((d) => d.id)));
    expect(server.count('all_datasets')).toBe(2);
  });

  it.each([false, true])('truncated streams that never complete end in UpstreamError (cleanEnd=%s)', async (cleanEnd) => {
    seedOld(5);
    server.truncateNextStream({ cleanEnd, times: 3 });
    const { source } = client({ maxAttempts: 3 });
    const got: DatasetRef[] = [];
    const e = await failure(async () => {
      for await (const r of source.listDatasets({ repository: REPO, collection: RUN, datasetType: DT })) got.push(r);
    });
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).not.toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toMatch(cleanEnd ? /middle of a line/ : /broke before the answer was complete/);
    expect(got).toEqual([]);
  });

  it('401, 403 and 422 are refusals, not retried, with the server detail', async () => {
    seedOld(1);
    const bad = client({ token: () => 'not-a-token-at-all' }).source;
    const e401 = await failure(list(bad));
    expect(e401).toBeInstanceOf(UpstreamRefusedError);
    expect(e401.message).toContain('HTTP 401');

    const other = client({ token: async () => OTHER_TOKEN }).source;
    const e403 = await failure(list(other));
    expect(e403).toBeInstanceOf(UpstreamRefusedError);
    expect(e403.message).toContain("User someone-else does not have permission to access Butler repository 'dp1'");

    const e422 = await failure(client().source.fetchArtifact(REPO, { id: randomUUID(), datasetType: DT, run: RUN, dataId: {}, cursor: '' }));
    expect(e422).toBeInstanceOf(UpstreamRefusedError);
    expect((e422 as UpstreamRefusedError).detail).toMatchObject({ errorType: 'dataset_not_found' });

    const malformed = await failure(client().source.fetchArtifact(REPO, { id: 'not-a-uuid', datasetType: DT, run: RUN, dataId: {}, cursor: '' }));
    expect(malformed).toBeInstanceOf(UpstreamRefusedError);
    expect(malformed.message).toContain('malformed');
    expect(malformed.message).toContain('path.dataset_id');

    expect(server.count('all_datasets')).toBe(2);
    expect(server.count('get_file')).toBe(2);
  });

  it('an empty token is refused before anything is sent', async () => {
    const e = await failure(list(client({ token: () => '' }).source));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('BUTLER_TOKEN');
    expect(server.requests).toHaveLength(0);
  });

  it('an unknown repository is a refusal', async () => {
    const e = await failure(async () => {
      for await (const _ of client().source.listDatasets({ repository: 'nope', collection: RUN, datasetType: DT })) void _;
    });
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('HTTP 404');
  });
});

describe('ButlerServerSource.fetchArtifact', () => {
  function ref(d: SeedDataset): DatasetRef {
    return { id: d.id, datasetType: d.datasetType, run: d.run, dataId: d.dataId, cursor: '' };
  }

  it('downloads the presigned URL without our token and returns bytes, path, size and sha256', async () => {
    const [d] = seedOld(1);
    const art = await client().source.fetchArtifact(REPO, ref(d));
    expect(Buffer.from(art.bytes).equals(Buffer.from(d.bytes!))).toBe(true);
    expect(art.size).toBe(d.bytes!.length);
    expect(art.sha256).toBe(createHash('sha256').update(d.bytes!).digest('hex'));
    expect(art.path).toBe(`${RUN}/${DT}/9813/42/g/${DT}_g_9813_42_u_alien_zooniverse-1.fits`);
    const gf = server.requests.find((r) => r.route === 'get_file')!;
    expect(gf.path).toBe(`/api/butler/repo/dp1/v1/get_file/${d.id}`);
    expect(gf.headers.authorization).toBe(`Bearer ${DOUBLE_TOKEN}`);
    const dl = server.requests.find((r) => r.route === 'storage')!;
    expect(dl.headers.authorization).toBeUndefined();
  });

  it('sends the bearer to storage when the server says auth: datastore', async () => {
    server.fileAuth = 'datastore';
    const [d] = seedOld(1);
    const art = await client().source.fetchArtifact(REPO, ref(d));
    expect(art.size).toBe(d.bytes!.length);
    expect(server.requests.find((r) => r.route === 'storage')!.headers.authorization).toBe(`Bearer ${DOUBLE_TOKEN}`);
  });

  it('asks for a fresh URL when the presigned one has expired, transparently', async () => {
    const [d] = seedOld(1);
    server.expireNextUrls(2);
    const art = await client().source.fetchArtifact(REPO, ref(d));
    expect(art.sha256).toBe(createHash('sha256').update(d.bytes!).digest('hex'));
    expect(server.count('get_file')).toBe(3);
    expect(server.count('storage')).toBe(3);
  });

  it('gives up after two refreshes, and no URL appears in the error', async () => {
    const [d] = seedOld(1);
    server.expireNextUrls(3);
    const e = await failure(client().source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.message).toContain('expired');
    expect(server.count('get_file')).toBe(3);
    const text = e.message + JSON.stringify((e as UpstreamError).detail ?? {});
    expect(text).not.toMatch(/X-Amz|Signature|\/storage\/|127\.0\.0\.1:\d+\//);
    for (const r of server.requests.filter((x) => x.route === 'storage')) expect(text).not.toContain(r.path);
  });

  it('a URL expired before this call (expireUrls) is never reused: every call starts at get_file', async () => {
    const [d] = seedOld(1);
    const { source } = client();
    await source.fetchArtifact(REPO, ref(d));
    server.expireUrls();
    await source.fetchArtifact(REPO, ref(d));
    expect(server.count('get_file')).toBe(2);
    expect(server.count('storage')).toBe(2);
  });

  it('retries storage 5xx and resets', async () => {
    const [d] = seedOld(1);
    server.failNext(1, { status: 500, route: 'storage' });
    server.resetNextConnection({ route: 'storage' });
    const { source, sleeps } = client();
    const art = await source.fetchArtifact(REPO, ref(d));
    expect(art.size).toBe(d.bytes!.length);
    expect(sleeps).toHaveLength(2);
  });

  it('retries get_file on 503 with Retry-After', async () => {
    const [d] = seedOld(1);
    server.failNext(1, { status: 503, retryAfter: 3, route: 'get_file' });
    const { source, sleeps } = client();
    await source.fetchArtifact(REPO, ref(d));
    expect(sleeps).toEqual([3000]);
  });

  it('a registered dataset without a file is refused', async () => {
    const d = dataset(0, new Date(), { bytes: null });
    server.seed(d);
    const e = await failure(client().source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('registered but has no file');
  });

  it('a disassembled composite is refused, naming its components', async () => {
    const d = dataset(0, new Date(), { components: [{ component: 'image', bytes: new Uint8Array(10) }, { component: 'mask', bytes: new Uint8Array(10) }] });
    server.seed(d);
    const e = await failure(client().source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('image, mask');
  });

  it('refuses a file whose recorded size is over the cap without downloading it', async () => {
    const [d] = seedOld(1);
    const e = await failure(client({ maxArtifactBytes: 1000 }).source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('1000-byte limit');
    expect(server.count('storage')).toBe(0);
  });

  it('refuses on Content-Length over the cap when the size is not recorded', async () => {
    const d = dataset(0, new Date(), { fileSize: -1 });
    server.seed(d);
    const e = await failure(client({ maxArtifactBytes: 1000 }).source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain(`${d.bytes!.length} bytes`);
  });

  it('counts the bytes of a chunked download against the cap', async () => {
    server.chunkedDownloads = true;
    const d = dataset(0, new Date(), { fileSize: -1, bytes: new Uint8Array(200_000) });
    server.seed(d);
    const e = await failure(client({ maxArtifactBytes: 100_000 }).source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamRefusedError);
    expect(e.message).toContain('stopped after');
    const ok = await client({ maxArtifactBytes: 200_000 }).source.fetchArtifact(REPO, ref(d));
    expect(ok.size).toBe(200_000);
  });

  it('a size that disagrees with the Butler record is retried, then an UpstreamError', async () => {
    const d = dataset(0, new Date(), { fileSize: 12 });
    server.seed(d);
    const { source, sleeps } = client({ maxAttempts: 3 });
    const e = await failure(source.fetchArtifact(REPO, ref(d)));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.message).toContain('the Butler records 12');
    expect(sleeps).toHaveLength(2);
  });

  it('a dataset stored inside a zip (path#zip-path=member) comes out of its archive', async () => {
    const member = new Uint8Array(randomBytes(5000));
    const zip = makeZip([
      { name: 'other.fits', data: new Uint8Array(100) },
      { name: 'abcd1234-cutout_g.fits', data: member, deflate: true },
    ]);
    const d = dataset(0, new Date(), { bytes: zip, path: 'zips/f00d/f00dcafe.zip#zip-path=abcd1234-cutout_g.fits', fileSize: member.length });
    server.seed(d);
    const art = await client().source.fetchArtifact(REPO, ref(d));
    expect(Buffer.from(art.bytes).equals(Buffer.from(member))).toBe(true);
    expect(art.path.endsWith('.fits')).toBe(true);
    expect(art.sha256).toBe(createHash('sha256').update(member).digest('hex'));
  });
});

describe('secrets stay out of errors', () => {
  it('the token appears in no error message or detail, even when the server echoes it', async () => {
    const [d] = seedOld(1);
    const ref = { id: d.id, datasetType: DT, run: RUN, dataId: d.dataId, cursor: '' };
    const errors: Error[] = [];
    const { source } = client({ maxAttempts: 2 });

    server.failNext(1, { status: 403, detail: `token ${DOUBLE_TOKEN} is not allowed here` });
    errors.push(await failure(list(source)));
    server.failNext(2, { status: 503, retryAfter: 1, detail: `overloaded, your token was ${DOUBLE_TOKEN}` });
    errors.push(await failure(list(source)));
    server.failNext(1, { status: 422, detail: `bad ${DOUBLE_TOKEN}` });
    errors.push(await failure(list(source)));
    errors.push(await failure(list(source, undefined, 'u/alien/missing')));
    server.resetNextConnection({ times: 2 });
    errors.push(await failure(list(source)));
    server.truncateNextStream({ times: 2 });
    errors.push(await failure(list(source)));
    errors.push(await failure(list(client({ token: () => 'wrong-token-value' }).source)));
    server.expireNextUrls(3);
    errors.push(await failure(source.fetchArtifact(REPO, ref)));
    server.failNext(2, { status: 500, route: 'storage' });
    errors.push(await failure(source.fetchArtifact(REPO, ref)));
    errors.push(await failure(source.fetchArtifact(REPO, { ...ref, id: randomUUID() })));

    expect(errors).toHaveLength(10);
    for (const e of errors) {
      const text = `${e.message} ${JSON.stringify((e as UpstreamError).detail ?? {})} ${String(e.stack)}`;
      expect(text).not.toContain(DOUBLE_TOKEN);
      expect(text).not.toContain('wrong-token-value');
      expect(text).not.toContain('X-Amz-Signature');
    }
  });
});

describe('TAI nanoseconds for datetime literals', () => {
  it('matches astropy/daf_butler: UTC + leap seconds, from 1970-01-01 TAI', () => {
    expect(utcMsToTaiNsec(Date.UTC(2026, 0, 1))).toBe(1_767_225_637_000_000_000n);
    expect(utcMsToTaiNsec(Date.UTC(2016, 11, 31, 23, 59, 59))).toBe((1_483_228_799n + 36n) * 1_000_000_000n);
    expect(utcMsToTaiNsec(Date.UTC(2017, 0, 1))).toBe((1_483_228_800n + 37n) * 1_000_000_000n);
    expect(utcMsToTaiNsec(Date.UTC(2026, 5, 1, 12, 0, 0, 123))).toBe(taiNsecOf(new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 123))));
  });
});

describe('the test double keeps to the contract', () => {
  const body = { collections: [RUN], name: [DT], find_first: true, data_id: {}, default_data_id: {}, where: '', bind: {}, limit: null, with_dimension_records: false };
  const post = (b: unknown, headers: Record<string, string> = { authorization: `Bearer ${DOUBLE_TOKEN}` }) =>
    fetch(`${server.url}/api/butler/repo/dp1/v1/query/all_datasets`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof b === 'string' ? b : JSON.stringify(b) });

  it('serves butler.json without authentication', async () => {
    const r = await fetch(`${server.url}/api/butler/repo/dp1/butler.json`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ cls: 'lsst.daf.butler.remote_butler.RemoteButler', remote_butler: { authentication: 'rubin_science_platform' } });
  });

  it('403 without a bearer, as the server does without X-Auth-Request-User', async () => {
    const r = await post(body, {});
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ detail: 'Required X-Auth-Request-User header was not provided' });
  });

  it('422 with a detail list when a field is missing or mistyped', async () => {
    seedOld(1);
    for (const field of Object.keys(body)) {
      const partial: Record<string, unknown> = { ...body };
      delete partial[field];
      const r = await post(partial);
      expect(r.status).toBe(422);
      const j = (await r.json()) as { detail: { loc: string[] }[] };
      expect(j.detail[0].loc).toEqual(['body', field]);
    }
  });

  it('accepts a datetime literal only as {expression_type, nsec: <JSON integer>}', async () => {
    seedOld(1);
    const where = 'ingest_date > :after';
    const ok = await post(`{"collections":["${RUN}"],"name":["${DT}"],"find_first":true,"data_id":{},"default_data_id":{},"where":"${where}","bind":{"after":{"expression_type":"datetime","nsec":1767225637000000000}},"limit":null,"with_dimension_records":false}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/jsonlines');
    await ok.text();
    for (const lit of [{ expression_type: 'datetime', nsec: '1767225637000000000' }, { expression_type: 'datetime', value: '2026-01-01T00:00:00' }, { expression_type: 'datetime' }]) {
      const r = await post({ ...body, where, bind: { after: lit } });
      expect(r.status).toBe(422);
    }
  });

  it('query errors arrive in a 200 stream as an error line', async () => {
    seedOld(1);
    const r = await post({ ...body, collections: ['nope'] });
    expect(r.status).toBe(200);
    expect((await r.text()).trim()).toBe(JSON.stringify({ type: 'error', error: { error_type: 'missing_collection', detail: "No collection with name 'nope' found." } }));
  });
});
