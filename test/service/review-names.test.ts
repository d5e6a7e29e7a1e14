import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { waitFor } from '../support/wait.js';

/**
 * What the rewritten review page relies on, over real HTTP: names a
 * reviewer can say (listing, audit, refusals), every id matching a filter,
 * renewable preview URLs with a configurable lifetime, and "why" per
 * collection. Media URLs live 5 s here (MEDIA_URL_TTL_SECONDS).
 */
let app: BridgeApp;
let alien: string;
let revC: string;
/** A 64-bit DIA object id: kept exactly (a double would change it). */
const OBJECT = '1567428592185376787';

interface Item {
  id: string;
  name: string;
  objectId: string | null;
  dataId: Record<string, unknown>;
  collectionId: string;
  previewUrl: string;
  frames: { band: string; previewUrl: string }[];
  previewExpiresAt: string;
}

async function allPages(who: string, query: string, limit = 3): Promise<Item[]> {
  const out: Item[] = [];
  let after: string | null = null;
  do {
    const r = await app.call(who, 'GET', `/review/images?${query}&limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    expect(r.status).toBe(200);
    out.push(...r.body.items);
    after = r.body.next;
  } while (after);
  return out;
}

async function media(path: string): Promise<number> {
  return (await fetch(`${app.url}${path}`)).status;
}

beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 6, env: { MEDIA_URL_TTL_SECONDS: '5' } });
  alien = app.collections.alien;
  revC = app.collections.rev;
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('names a reviewer can say', () => {
  it('are unique across a collection, say where the image comes from, and carry the dataId', async () => {
    const items = await allPages('rev', `collection=${alien}`);
    expect(items).toHaveLength(6);
    expect(new Set(items.map((i) => i.name)).size).toBe(6);
    for (const i of items) {
      expect(i.name).toMatch(/^tract 9813 · patch 42 · stamp \d+ · gri$/);
      expect(i.objectId).toBeNull();
      expect(i.dataId).toMatchObject({ tract: 9813, patch: 42 });
      expect(i.dataId).not.toHaveProperty('band');
    }
  });

  it("use the PI's object id from the extra-metadata table, the same in the audit view and in a refused decision", async () => {
    const [first, second] = await allPages('alien', `collection=${alien}`);
    const put = await fetch(`${app.url}/api/v1/collections/${alien}/extra-metadata`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await app.bearer('alien')}`, 'content-type': 'text/csv' },
      // One row by image id; one by stamp index, which may match an image in every group, so its id never names an image alone.
      body: `object,diaObjectId,ml_score\n${first.id},${OBJECT},0.9\n${(second as Item & { stampIndex: number }).stampIndex},42,0.1\n`,
    });
    expect(put.status).toBe(200);
    const items = await allPages('rev', `collection=${alien}`);
    const named = items.find((i) => i.id === first.id)!;
    expect(named).toMatchObject({ name: `object ${OBJECT}`, objectId: OBJECT });
    const byStamp = items.find((i) => i.id === second.id)!;
    expect(byStamp.objectId).toBe('42');
    expect(byStamp.name).toMatch(/^object 42 · tract 9813 · patch 42 · stamp \d+ · gri$/);
    expect(new Set(items.map((i) => i.name)).size).toBe(items.length);

    // The audit view names the image the same way.
    const decided = await app.call('rev', 'POST', '/review/decisions', { imageIds: [first.id, second.id], action: 'approve' });
    expect(decided.body.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true]);
    const audit = await app.call('alien', 'GET', `/images/${first.id}/audit`);
    expect(audit.body.items.length).toBeGreaterThan(0);
    for (const e of audit.body.items) expect(e.imageName).toBe(`object ${OBJECT}`);
    const all = await app.call('alien', 'GET', `/collections/${alien}/audit`);
    const byImage = new Map<string, string>(all.body.items.filter((e: { imageName: string | null }) => e.imageName).map((e: { imageId: string; imageName: string }) => [e.imageId, e.imageName]));
    expect(byImage.get(first.id)).toBe(`object ${OBJECT}`);
    expect(byImage.get(second.id)).toBe(items.find((i) => i.id === second.id)!.name);

    // A refusal names the image, never by its uuid (the result carries the id).
    const again = await app.call('rev', 'POST', '/review/decisions', { imageIds: [first.id], action: 'approve' });
    expect(again.body.results[0]).toMatchObject({ imageId: first.id, ok: false });
    expect(again.body.results[0].error).toMatch(new RegExp(`^object ${OBJECT} is (approved|published), not waiting for review`));
    expect(again.body.results[0].error).not.toContain(first.id);
    const own = await app.call('rev', 'POST', '/review/decisions', { imageIds: [(await allPages('rev', `collection=${revC}`))[0].id], action: 'approve' });
    expect(own.body.results[0].error).toMatch(/^tract 9813 · patch 42 · stamp \d+ · gri belongs to your own collection/);
  });
});

describe('every image matching a filter', () => {
  it('gives the ids /review/images pages through, in its order, with the total', async () => {
    for (const who of ['rev', 'alien']) {
      for (const q of ['', `collection=${alien}`, 'verdict=pending_review', `collection=${alien}&state=quarantined`]) {
        const paged = (await allPages(who, q || 'x=1', 4)).map((i) => i.id);
        const r = await app.call(who, 'GET', `/review/image-ids${q ? `?${q}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ ids: paged, total: paged.length, truncated: false });
      }
    }
  });

  it('decidable=true leaves out policy-rejected and held images and the caller\'s own collection', async () => {
    const quarantined = (await app.call('rev', 'GET', `/review/image-ids?collection=${alien}&state=quarantined`)).body.ids as string[];
    expect(quarantined.length).toBeGreaterThanOrEqual(2);
    // The policy rejected one and holds another (as it does for caps, embargoes and proprietary data).
    await app.s.db.updateTable('images').set({ state: 'rejected', verdict: 'rejected', verdict_reasons: JSON.stringify(['prompt data is under its 80-hour embargo']) }).where('id', '=', quarantined[0]).execute();
    await app.s.db.updateTable('images').set({ verdict: 'held' }).where('id', '=', quarantined[1]).execute();
    const all = (await app.call('rev', 'GET', '/review/image-ids')).body;
    const decidable = (await app.call('rev', 'GET', '/review/image-ids?decidable=true')).body;
    const revOwn = new Set(((await app.call('rev', 'GET', `/review/image-ids?collection=${revC}`)).body.ids as string[]));
    expect(revOwn.size).toBe(6);
    expect(decidable.ids).not.toContain(quarantined[0]);
    expect(decidable.ids).not.toContain(quarantined[1]);
    expect(decidable.ids).toContain(quarantined[2]);
    expect(decidable.ids.some((id: string) => revOwn.has(id))).toBe(false);
    // Still in the listing's order.
    expect(decidable.ids).toEqual(all.ids.filter((id: string) => decidable.ids.includes(id)));
    expect(decidable.total).toBe(decidable.ids.length);
    // A PI decides nothing; another PI's collection is refused.
    expect((await app.call('alien', 'GET', '/review/image-ids?decidable=true')).body).toEqual({ ids: [], total: 0, truncated: false });
    expect((await app.call('other', 'GET', `/review/image-ids?collection=${alien}`)).status).toBe(403);
    expect((await app.call('other', 'GET', '/review/image-ids')).body).toEqual({ ids: [], total: 0, truncated: false });

    // The listing agrees card by card: what the policy rejected or holds takes no decision.
    const cards = new Map((await allPages('rev', `collection=${alien}`, 100)).map((c) => [c.id, c as Item & { canDecide: boolean }]));
    expect(cards.get(quarantined[0])!.canDecide).toBe(false);
    expect(cards.get(quarantined[1])!.canDecide).toBe(false);
    expect(cards.get(quarantined[2])!.canDecide).toBe(true);
    // And it says how many match in all, whatever the page size.
    const first = await app.call('rev', 'GET', `/review/images?collection=${alien}&limit=2`);
    expect(first.body.total).toBe(cards.size);
    expect(first.body.items).toHaveLength(2);

    // decidable=<action>: only the images that action applies to now (the page's "select all N" acts on these).
    // This approval must stay undoable until the undo below: an admin's hour of publishing delay on the
    // collection keeps the workers from publishing it in between (here approvals otherwise publish at once,
    // and with fast store writes the publish could win that race).
    const delay = (seconds: number | null) => app.call('boss', 'PUT', `/collections/${alien}/publish-delay`, { seconds, reason: 'test: approve, then undo' });
    expect((await delay(3600)).status).toBe(200);
    const approved = await app.call('rev', 'POST', '/review/decisions', { imageIds: [quarantined[2]], action: 'approve' });
    expect(approved.body.results[0].ok).toBe(true);
    const forAction = async (a: string) => (await app.call('rev', 'GET', `/review/image-ids?collection=${alien}&decidable=${a}`)).body.ids as string[];
    const pending = quarantined.slice(3);
    expect(await forAction('approve')).toEqual(pending);
    expect(await forAction('undo')).toEqual([quarantined[2]]);
    expect((await forAction('reject')).sort()).toEqual([quarantined[2], ...pending].sort());
    expect((await app.call('alien', 'GET', `/review/image-ids?collection=${alien}&decidable=approve`)).body.ids).toEqual([]);
    expect((await app.call('rev', 'GET', `/review/image-ids?decidable=publish`)).status).toBe(400);
    // Back as it was, for the tests that follow.
    expect((await app.call('rev', 'POST', '/review/decisions', { imageIds: [quarantined[2]], action: 'undo' })).body.results[0].ok).toBe(true);
    expect((await delay(null)).status).toBe(200);
  });
});

describe('media URL lifetime', () => {
  it('a preview URL stops working after MEDIA_URL_TTL_SECONDS; refresh gives new ones, only for images the caller may see', async () => {
    const [img] = await allPages('alien', `collection=${alien}`);
    const left = Date.parse(img.previewExpiresAt) - Date.now();
    expect(left).toBeGreaterThan(3_000);
    expect(left).toBeLessThanOrEqual(6_500);
    expect(await media(img.previewUrl)).toBe(200);
    await waitFor(async () => Date.now(), (now) => now > Date.parse(img.previewExpiresAt) + 1_100, 10_000);
    expect(await media(img.previewUrl)).toBe(403);

    const revImage = (await allPages('rev', `collection=${revC}`))[0];
    const r = await app.call('alien', 'GET', `/review/images/refresh?ids=${img.id},${revImage.id}`);
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(1);
    const fresh = r.body.items[0];
    expect(Object.keys(fresh).sort()).toEqual(['frames', 'id', 'previewExpiresAt', 'previewUrl']);
    expect(fresh.id).toBe(img.id);
    expect(Date.parse(fresh.previewExpiresAt)).toBeGreaterThan(Date.now() + 3_000);
    expect(await media(fresh.previewUrl)).toBe(200);
    // A reviewer sees both.
    expect((await app.call('rev', 'GET', `/review/images/refresh?ids=${img.id},${revImage.id}`)).body.items.map((i: { id: string }) => i.id)).toEqual([img.id, revImage.id]);
    expect((await app.call('alien', 'GET', '/review/images/refresh?ids=not-a-uuid')).status).toBe(400);
  });
});

describe('why, per collection', () => {
  it('groups the images by outcome and reason, largest first, with the next step and when an embargo ends', async () => {
    const ids = ((await app.call('rev', 'GET', `/review/image-ids?collection=${revC}`)).body.ids as string[]);
    const hour = 3_600_000;
    const newest = new Date(Math.floor((Date.now() - 10 * hour) / 1000) * 1000);
    // As the cutouts' headers would say: three observed recently, three long ago.
    await app.s.db.updateTable('images').set({ observed_at: newest }).where('id', '=', ids[0]).execute();
    await app.s.db.updateTable('images').set({ observed_at: new Date(Date.now() - 20 * hour) }).where('id', 'in', ids.slice(1, 3)).execute();
    await app.s.db.updateTable('images').set({ observed_at: new Date(Date.now() - 500 * hour) }).where('id', 'in', ids.slice(3)).execute();
    const set = await app.call('boss', 'POST', `/collections/${revC}/release`, { release: 'prompt', proprietary: true, embargoHours: 80, reason: 'these are prompt images' });
    expect(set.status).toBe(200);

    type Why = { total: number; groups: { outcome: string; rules: string[]; reason: string; count: number; nextStep: string | null; until: string | null }[] };
    const why = await waitFor(
      async () => (await app.call('rev', 'GET', `/collections/${revC}/why`)).body as Why,
      (w) => w.groups.length === 2 && w.groups.every((g) => g.outcome !== 'pending_review'),
      30_000,
    );
    expect(why.total).toBe(6);
    expect(why.groups.map((g) => g.count)).toEqual([3, 3]);
    const embargoed = why.groups.find((g) => g.outcome === 'rejected')!;
    expect(embargoed.rules).toContain('prompt-embargo');
    expect(embargoed.reason).toMatch(/^prompt data is under its 80-hour embargo/);
    expect(embargoed.until).toBe(new Date(newest.getTime() + 80 * hour).toISOString());
    expect(embargoed.nextStep).toMatch(new RegExp(`^embargo ends ${embargoed.until!.slice(0, 16).replace('T', ' ')} UTC`));
    const held = why.groups.find((g) => g.outcome === 'held')!;
    expect(held).toMatchObject({ count: 3, reason: 'waiting for Data Rights Panel approval: the data is proprietary', nextStep: 'ask the Data Rights Panel to approve this collection (an EPO admin records it)', until: null });
    expect(held.rules).toContain('proprietary-needs-approval');

    // Owner, reviewers and admins may ask; another PI may not.
    expect((await app.call('rev', 'GET', `/collections/${revC}/why`)).status).toBe(200);
    expect((await app.call('boss', 'GET', `/collections/${revC}/why`)).status).toBe(200);
    expect((await app.call('other', 'GET', `/collections/${revC}/why`)).status).toBe(403);
  });

  it("names a reviewer's rejection with its reason, a reviewer's approval apart from what still waits, and a failed conversion with its error's first line", async () => {
    const quarantined = (await app.call('rev', 'GET', `/review/image-ids?collection=${alien}&decidable=true&state=quarantined`)).body.ids as string[];
    expect(quarantined.length).toBeGreaterThanOrEqual(2);
    const rej = await app.call('rev', 'POST', '/review/decisions', { imageIds: [quarantined[0]], action: 'reject', reason: 'a satellite trail, not a galaxy' });
    expect(rej.body.results[0].ok).toBe(true);
    const ok = await app.call('rev', 'POST', '/review/decisions', { imageIds: [quarantined[1]], action: 'approve' });
    expect(ok.body.results[0].ok).toBe(true);
    // A conversion that failed, as the pipeline records one, on an image no reviewer touched.
    const all = (await app.call('rev', 'GET', `/review/image-ids?collection=${alien}`)).body.ids as string[];
    const untouched = all.find((id) => !quarantined.slice(0, 2).includes(id))!;
    await app.s.db.updateTable('images').set({ state: 'failed', verdict: null, error: 'stamp 4 of i: cannot be read\ndetails follow' }).where('id', '=', untouched).execute();
    const why = (await app.call('alien', 'GET', `/collections/${alien}/why`)).body;
    expect(why.total).toBe(6);
    expect(why.groups.find((g: { outcome: string }) => g.outcome === 'reviewer_rejected')).toMatchObject({ rules: [], reason: 'a satellite trail, not a galaxy', count: 1, until: null });
    expect(why.groups.find((g: { outcome: string }) => g.outcome === 'failed')).toMatchObject({ rules: [], reason: 'stamp 4 of i: cannot be read', count: 1, nextStep: 'fix or remove the file, then Retry' });
    // Approved by a reviewer is no longer "sent to EPO review, nothing to do until then".
    // Counted from the rows: the policy sent these to review and a reviewer moved them on (approved, or published since).
    const pendingPolicy = app.s.db.selectFrom('images').select('id').where('collection_id', '=', alien).where('verdict', '=', 'pending_review');
    const movedOn = (await pendingPolicy.where('state', 'not in', ['quarantined', 'rejected', 'failed']).execute()).length;
    const waiting = (await pendingPolicy.where('state', '=', 'quarantined').execute()).length;
    expect(movedOn).toBeGreaterThanOrEqual(1);
    expect(why.groups.find((g: { outcome: string }) => g.outcome === 'reviewer_approved')).toMatchObject({ count: movedOn, nextStep: null });
    expect(why.groups.find((g: { outcome: string }) => g.outcome === 'pending_review')?.count ?? 0).toBe(waiting);
    const counts = why.groups.map((g: { count: number }) => g.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });
});
