import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishImage, withdrawAbandoned } from '../../src/domain/publish.js';
import { planUploadBatches } from '../../src/domain/manifest.js';
import { judged, startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * A reviewer approves an image with the metadata volunteers will read next
 * to it. When the PI changes that metadata after the approval, before the
 * image is in an upload batch, the image is back in review with the changed
 * columns named; published ones leave the public store until approved again.
 */
let d: DevApi;
let s: DevApi['s'];
let call: DevApi['call'];

beforeAll(async () => {
  d = await startDevApi();
  ({ s, call } = d);
}, 60_000);
afterAll(async () => {
  await d?.close();
});

const reviewer = { 'x-bridge-dev-roles': 'reviewer' };
const images = (id: string) => s.db.selectFrom('images').select(['id', 'state', 'verdict', 'reviewed_by', 'recheck_reason', 'public_key']).where('collection_id', '=', id).orderBy('stamp_index').execute();

describe('extra metadata changed after approval', () => {
  it('sends approved and published-but-not-uploaded images back to review, naming the columns; batched ones keep their manifest', async () => {
    const { id } = await judged(d, 'dp02', 'u/alien/metadata-later', { stamps: 4 });
    const [a, b, c, waiting] = await images(id);
    expect([a, b, c, waiting].map((i) => i.verdict)).toEqual(Array(4).fill('pending_review'));
    const approve = (ids: string[]) => call('POST', '/api/v1/review/decisions', 'rev', { imageIds: ids, action: 'approve' }, reviewer);

    // c: approved, published and planned into an upload batch; b: approved and published; a: approved; waiting: not decided.
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
    // The one never decided: nothing to send back, and no reason shown.
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
