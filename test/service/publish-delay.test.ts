import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { waitFor } from '../support/wait.js';

/**
 * The publishing delay on the real stack (HTTP, BullMQ delayed jobs on real
 * Redis, the worker's publish handler): an approval publishes only when its
 * delay ends, Undo before then leaves nothing public, and an admin can end
 * the delay explicitly.
 */
let app: BridgeApp;
let ids: string[];

const state = (id: string) => app.s.db.selectFrom('images').select(['state', 'public_key', 'publish_after']).where('id', '=', id).executeTakeFirstOrThrow();

beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien'], stamps: 4, env: { PUBLISH_DELAY_SECONDS: '3' } });
  ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).orderBy('stamp_index').execute()).map((r) => r.id);
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('publishing delay', () => {
  it('an approval waits out the delay; Undo inside it leaves nothing public; the other publishes when it ends', async () => {
    const t0 = Date.now();
    const res = await app.call('rev', 'POST', '/review/decisions', { imageIds: ids.slice(0, 2), action: 'approve' });
    expect(res.status).toBe(200);
    for (const r of res.body.results) {
      expect(r).toMatchObject({ ok: true, state: 'approved' });
      expect(Date.parse(r.publishAfter) - t0).toBeGreaterThanOrEqual(2_500);
    }
    // The page shows when each will publish.
    const listed = await app.call('rev', 'GET', `/review/images?collection=${app.collections.alien}&state=approved`);
    expect(listed.body.items.map((i: { publishAfter: string }) => i.publishAfter)).toEqual(res.body.results.map((r: { publishAfter: string }) => r.publishAfter));

    await new Promise((r) => setTimeout(r, 1_000));
    expect(await state(ids[0])).toMatchObject({ state: 'approved', public_key: null });
    const undo = await app.call('rev', 'POST', '/review/decisions', { imageIds: [ids[0]], action: 'undo', reason: 'approved the wrong page' });
    expect(undo.body.results).toEqual([{ imageId: ids[0], ok: true, state: 'quarantined' }]);

    const second = await waitFor(() => state(ids[1]), (s) => s.state === 'published', 20_000);
    expect(second.public_key).not.toBeNull();
    // Published no earlier than the delay allowed.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3_000);
    // The undone one's delayed publish job ran too, and was refused: it is in review, nothing public.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await state(ids[0])).toMatchObject({ state: 'quarantined', public_key: null, publish_after: null });
  });

  it("an admin's per-collection delay wins; only an admin ends it early, and that publishes at once", async () => {
    const set = await app.call('boss', 'PUT', `/collections/${app.collections.alien}/publish-delay`, { seconds: 3600, reason: 'large release, two-person check' });
    expect(set).toMatchObject({ status: 200, body: { publishDelaySeconds: 3600 } });
    expect((await app.call('alien', 'PUT', `/collections/${app.collections.alien}/publish-delay`, { seconds: 0, reason: 'hurry' })).status).toBe(403);

    const t0 = Date.now();
    const res = await app.call('rev', 'POST', '/review/decisions', { imageIds: [ids[2]], action: 'approve' });
    expect(Date.parse(res.body.results[0].publishAfter) - t0).toBeGreaterThan(3_500_000);
    // A reviewer who is not an admin cannot skip the delay.
    expect((await app.call('rev', 'POST', '/review/publish-now', { imageIds: [ids[2]], reason: 'please' })).status).toBe(403);
    const now = await app.call('boss', 'POST', '/review/publish-now', { imageIds: [ids[2]], reason: 'the PI needs it for a press release today' });
    expect(now.body.results).toMatchObject([{ imageId: ids[2], ok: true, state: 'approved' }]);
    await waitFor(() => state(ids[2]), (s) => s.state === 'published', 20_000);
    const audit = await app.call('boss', 'GET', `/images/${ids[2]}/audit`);
    expect(audit.body.items).toContainEqual(expect.objectContaining({ action: 'publish_now', actor: 'boss', reason: 'the PI needs it for a press release today' }));
  });
});
