import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startApiRole } from '../../src/app/api-server.js';
import { createLogger } from '../../src/app/logger.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { convertGroup, pollCollection, retrieveArtifact } from '../../src/domain/pipeline.js';
import { applyPolicy } from '../../src/domain/review.js';
import { publishImage, withdrawAbandoned } from '../../src/domain/publish.js';
import { planUploadBatches } from '../../src/domain/manifest.js';

/**
 * A reviewer approves an image with the metadata volunteers will read next
 * to it. When the PI changes that metadata after the approval, before the
 * image is in an upload batch, the image is back in review with the changed
 * columns named; published ones leave the public store until approved again.
 */
let dir: string;
let redis: LocalRedis;
let s: Services;
let api: { url: string; close(): Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'metadata-recheck-'));
  redis = await startLocalRedis();
  s = await buildServices(loadConfig({ BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), ARTIFACT_ROOT: join(dir, 'artifacts'), REDIS_URL: redis.url }), { log: createLogger('silent') });
  api = await startApiRole(s, 0);
}, 60_000);
afterAll(async () => {
  await api?.close();
  await s?.close();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = async (method: string, path: string, user: string, body?: unknown, extra: Record<string, string> = {}) => {
  const csv = typeof body === 'string';
  const r = await fetch(api.url + path, { method, headers: { 'content-type': csv ? 'text/csv' : 'application/json', 'x-bridge-dev-user': user, ...extra }, body: body === undefined ? undefined : csv ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};
const reviewer = { 'x-bridge-dev-roles': 'reviewer' };
const images = (id: string) => s.db.selectFrom('images').select(['id', 'state', 'verdict', 'reviewed_by', 'recheck_reason', 'public_key']).where('collection_id', '=', id).orderBy('stamp_index').execute();

describe('extra metadata changed after approval', () => {
  it('sends approved and published-but-not-uploaded images back to review, naming the columns; batched ones keep their manifest', async () => {
    const run = 'u/alien/metadata-later';
    await writeDemoArtifacts(join(dir, 'artifacts'), { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: 4, size: 32 });
    const reg = await call('POST', '/api/v1/collections', 'alien', { repository: 'dp02', collection: run, sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] });
    expect(reg.status).toBe(201);
    const id = reg.body.id as string;
    const { newArtifactIds } = await pollCollection(s.pipeline, id);
    let group: string | undefined;
    for (const a of newArtifactIds) group = (await retrieveArtifact(s.pipeline, a)).readyGroup?.groupKey ?? group;
    await convertGroup(s.pipeline, id, group!);
    await applyPolicy(s.review, id);
    const [a, b, c, d] = await images(id);
    expect([a, b, c, d].map((i) => i.verdict)).toEqual(Array(4).fill('pending_review'));
    const approve = (ids: string[]) => call('POST', '/api/v1/review/decisions', 'rev', { imageIds: ids, action: 'approve' }, reviewer);

    // c: approved, published and planned into an upload batch; b: approved and published; a: approved; d: still waiting.
    expect((await approve([c.id])).status).toBe(200);
    await publishImage({ repos: s.repos, store: s.store }, c.id);
    expect(await planUploadBatches({ repos: s.repos }, id)).toHaveLength(1);
    expect((await approve([a.id, b.id])).status).toBe(200);
    await publishImage({ repos: s.repos, store: s.store }, b.id);
    const published = (await images(id))[1];
    expect(published).toMatchObject({ state: 'published', reviewed_by: 'rev' });

    // The PI adds a score per stamp (keyed by stamp index).
    const table = 'object,ml_score,survey_note\n0,0.93,\n1,0.41,faint\n2,0.12,\n3,0.5,\n';
    const put = await call('PUT', `/api/v1/collections/${id}/extra-metadata`, 'alien', table);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const after = await images(id);
    expect(after.map((i) => i.state)).toEqual(['quarantined', 'quarantined', 'published', 'quarantined']);
    for (const i of after.slice(0, 2)) {
      expect(i).toMatchObject({ verdict: 'pending_review', reviewed_by: null });
      expect(i.recheck_reason).toMatch(/the PI changed its extra metadata after rev approved it \("ml_score"/);
    }
    expect(after[1].recheck_reason).toMatch(/"survey_note"/);
    // d never had a decision: nothing to send back, and no reason shown.
    expect(after[3].recheck_reason).toBeNull();
    const audit = await s.db.selectFrom('audit_log').select(['entity_id', 'actor', 'detail']).where('collection_id', '=', id).where('action', '=', 'metadata_changed').orderBy('id').execute();
    expect(audit.map((x) => [x.entity_id, x.actor]).sort()).toEqual(
      [
        [a.id, 'alien'],
        [b.id, 'alien'],
      ].sort(),
    );
    expect(audit.find((x) => x.entity_id === b.id)!.detail).toMatchObject({ from: 'published', approvedBy: 'rev', columns: ['ml_score', 'survey_note'] });
    const events = await s.db.selectFrom('events').select('payload').where('collection_id', '=', id).where('kind', '=', 'images_back_to_review').execute();
    expect(events).toHaveLength(1);
    expect((events[0].payload as { imageIds: string[] }).imageIds.sort()).toEqual([a.id, b.id].sort());

    // The published object leaves the public store (the sweep's withdrawal of an unfinished publish).
    expect(await s.store.head('public', published.public_key!)).toBeDefined();
    await withdrawAbandoned({ repos: s.repos, store: s.store }, 'sweeper');
    expect(await s.store.head('public', published.public_key!)).toBeUndefined();
    expect((await images(id))[1].public_key).toBeNull();

    // The reviewer sees why, and approves again; the same table again sends nothing back.
    const listing = await call('GET', `/api/v1/review/images?collection=${id}&state=quarantined`, 'rev', undefined, reviewer);
    expect(listing.body.items.find((i: { id: string }) => i.id === a.id).recheckReason).toMatch(/ml_score/);
    expect((await approve([a.id, b.id])).body.results.every((r: { ok: boolean }) => r.ok)).toBe(true);
    expect((await call('PUT', `/api/v1/collections/${id}/extra-metadata`, 'alien', table)).status).toBe(200);
    expect((await images(id)).slice(0, 2).map((i) => [i.state, i.recheck_reason])).toEqual([
      ['approved', null],
      ['approved', null],
    ]);

    // A collection-wide column is a change for every approved image not yet batched.
    const patch = await call('PATCH', `/api/v1/collections/${id}`, 'alien', { extraMetadata: { columns: { survey: 'LSST' }, objects: { '0': { ml_score: 0.93 } } } });
    expect(patch.status, JSON.stringify(patch.body)).toBe(200);
    expect((await images(id)).map((i) => i.state)).toEqual(['quarantined', 'quarantined', 'published', 'quarantined']);
  }, 60_000);
});
