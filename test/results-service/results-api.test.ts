import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parquetjs from '@dsnp/parquetjs';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { seedResults, type SeededResults } from '../support/results-seed.js';
import { csvObjects } from '../publish/helpers.js';

/**
 * GET /collections/{id}/results (+ .csv, .parquet) on the whole bridge: the
 * owner's collection went through the real pipeline, the reductions and
 * effects are seeded as the results jobs leave them. The rows carry RA/Dec:
 * reviewers and other PIs are refused.
 */
describe('results API', () => {
  let app: BridgeApp;
  let cid: string;
  let seeded: SeededResults;

  beforeAll(async () => {
    app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 6 });
    cid = app.collections.alien;
    const images = await app.s.db.selectFrom('images').select(['id', 'ra', 'dec']).where('collection_id', '=', cid).orderBy('stamp_index').execute();
    seeded = await seedResults(app.s.db, cid, images.map((i) => i.id), { positions: new Map(images.map((i) => [i.id, { ra: i.ra, dec: i.dec }])) });
  }, 180_000);
  afterAll(async () => {
    await app?.close();
  });

  async function download(user: string, path: string): Promise<Response> {
    return fetch(`${app.url}/api/v1${path}`, { headers: { authorization: `Bearer ${await app.bearer(user)}` } });
  }

  it('gives the owner every subject with its position and thumbnail, a page at a time', async () => {
    const seen: any[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const r = await app.call('alien', 'GET', `/collections/${cid}/results?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(seeded.reductions.length);
      seen.push(...r.body.items);
      cursor = r.body.next ?? '';
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(seeded.reductions.length / 4));
    expect(seen.map((x) => x.subjectId).sort()).toEqual(seeded.reductions.map((s) => s.subjectId).sort());
    const images = await app.s.db.selectFrom('images').select(['id', 'ra', 'dec']).where('collection_id', '=', cid).execute();
    for (const row of seen) {
      const img = images.find((i) => i.id === row.imageId)!;
      expect(row.ra).toBe(img.ra);
      expect(row.dec).toBe(img.dec);
      expect(row.ra).not.toBeNull();
      expect(row.classifications).toBe(seeded.reductions.find((s) => s.subjectId === row.subjectId)!.classifications);
      expect(row.retired).toBe(seeded.retired.has(row.subjectId));
    }
    const thumb = await fetch(`${app.url}${seen[0].previewUrl}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/png');
  }, 60_000);

  it('filters and sorts through the query string, and names a bad parameter', async () => {
    const yes = await app.call('alien', 'GET', `/collections/${cid}/results?task=T0&answer=Yes&sort=-agreement`);
    expect(yes.status).toBe(200);
    const want = seeded.reductions.filter((s) => (s.tasks.T0 as any).consensus.most_likely === 'Yes');
    expect(yes.body.items.map((x: any) => x.subjectId).sort()).toEqual(want.map((s) => s.subjectId).sort());
    const a = yes.body.items.map((x: any) => x.tasks.T0.consensus.agreement);
    expect(a).toEqual([...a].sort((p: number, q: number) => q - p));
    const flagged = await app.call('alien', 'GET', `/collections/${cid}/results?flagged=true`);
    expect(flagged.body.items.map((x: any) => x.subjectId).sort()).toEqual([...seeded.flagged.keys()].sort());
    const bad = await app.call('alien', 'GET', `/collections/${cid}/results?minAgreement=2`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/minAgreement/);
    const badCursor = await app.call('alien', 'GET', `/collections/${cid}/results?cursor=nonsense`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.field).toBe('cursor');
  });

  it('refuses reviewers and other PIs (403), answers 404 for an unknown collection, lets admins read', async () => {
    for (const path of [`/collections/${cid}/results`, `/collections/${cid}/results.csv`, `/collections/${cid}/results.parquet`]) {
      const rev = await download('rev', path);
      expect(rev.status, path).toBe(403);
      expect(rev.headers.get('content-disposition')).toBeNull();
      expect((await download('other', path)).status).toBe(403);
    }
    // The reviewer can see the collection elsewhere, so this is a refusal of the results, not of the collection.
    expect((await app.call('rev', 'GET', `/collections/${cid}`)).status).toBe(200);
    expect((await app.call('alien', 'GET', '/collections/00000000-0000-4000-8000-000000000000/results')).status).toBe(404);
    expect((await app.call('boss', 'GET', `/collections/${cid}/results`)).status).toBe(200);
  });

  it('downloads CSV and Parquet with the JSON rows\' values and a file name', async () => {
    const json = (await app.call('alien', 'GET', `/collections/${cid}/results?limit=500`)).body.items as any[];
    const csvRes = await download('alien', `/collections/${cid}/results.csv`);
    expect(csvRes.status).toBe(200);
    expect(csvRes.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csvRes.headers.get('content-disposition')).toBe('attachment; filename="u-alien-zoo-review-results.csv"');
    const rows = csvObjects(await csvRes.text());
    expect(rows.map((r) => r.subject_id)).toEqual(json.map((x) => x.subjectId));
    for (const [i, x] of json.entries()) {
      expect(Number(rows[i].ra)).toBe(x.ra);
      expect(rows[i]['T0.most_likely']).toBe(x.tasks.T0.consensus.most_likely);
      expect(Number(rows[i]['T0.agreement'])).toBe(x.tasks.T0.consensus.agreement);
      expect(Number(rows[i]['T0.votes.Yes'])).toBe(x.tasks.T0.counts.Yes ?? 0);
      expect(rows[i].retired_reason).toBe(x.retiredReason ?? '');
    }
    const filtered = csvObjects(await (await download('alien', `/collections/${cid}/results.csv?retired=true`)).text());
    expect(filtered.map((r) => r.subject_id).sort()).toEqual([...seeded.retired.keys()].sort());

    const pqRes = await download('alien', `/collections/${cid}/results.parquet`);
    expect(pqRes.status).toBe(200);
    expect(pqRes.headers.get('content-disposition')).toBe('attachment; filename="u-alien-zoo-review-results.parquet"');
    const reader = await parquetjs.ParquetReader.openBuffer(Buffer.from(await pqRes.arrayBuffer()));
    const cursor = reader.getCursor();
    const prows: any[] = [];
    for (let r = await cursor.next(); r; r = await cursor.next()) prows.push(r);
    await reader.close();
    expect(prows.map((r) => r.subject_id)).toEqual(json.map((x) => x.subjectId));
    for (const [i, x] of json.entries()) {
      expect(prows[i].dec).toBe(x.dec);
      expect(prows[i]['T0.num_votes']).toBe(x.tasks.T0.consensus.num_votes);
      expect(prows[i].retired).toBe(x.retired);
      expect(prows[i].object_id).toBe(x.objectId);
    }
  }, 60_000);

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await app.call('alien', 'GET', '/openapi.json')).body;
    for (const p of ['/collections/{id}/results', '/collections/{id}/results.csv', '/collections/{id}/results.parquet']) expect(doc.paths[p]?.get, p).toBeDefined();
  });
});
