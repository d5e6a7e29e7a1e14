import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';

/**
 * From a reviewer's approval to Zooniverse subjects, through the BullMQ flow
 * (publish children -> manifest -> upload parent) on real Redis, with the
 * Panoptes double behind the real client.
 */
let app: BridgeApp;
let zoo: PanoptesServerDouble;
let hook: Server;
let hookUrl: string;
let secret: string;
const received: { kind: string; signature: string; body: string; id: string; timestamp: string; standard: string }[] = [];

beforeAll(async () => {
  zoo = await PanoptesServerDouble.start();
  // The receiver listens on loopback, which webhooks may reach only when the operator allow-lists it.
  app = await startBridgeApp({ owners: ['alien'], stamps: 4, webhookAllowedHosts: '127.0.0.1', zooniverse: { baseUrl: zoo.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET } });
  // An admin approves the PI's Zooniverse project, then the PI connects the collection to it, through the API.
  const approval = await fetch(`${app.url}/api/v1/project-bindings`, { method: 'POST', headers: { authorization: `Bearer ${await app.bearer('boss')}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alien', projectId: '1', reason: 'Zooniverse project of alien' }) });
  expect(approval.status).toBe(201);
  const settings = await fetch(`${app.url}/api/v1/collections/${app.collections.alien}`, { method: 'PATCH', headers: { authorization: `Bearer ${await app.bearer('alien')}`, 'content-type': 'application/json' }, body: JSON.stringify({ zooniverseProjectId: '1', uploadMode: 'api' }) });
  expect(settings.status).toBe(200);
  expect(await settings.json()).toMatchObject({ zooniverseProjectId: '1', uploadMode: 'api', maxBatchSize: 1000, subjectSetPer: 'batch', subjectFrames: false });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      received.push({ kind: String(req.headers['x-bridge-event']), signature: String(req.headers['x-bridge-signature']), body, id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), standard: String(req.headers['webhook-signature']) });
      res.writeHead(received.length === 1 ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/bridge-events`;
  const set = await fetch(`${app.url}/api/v1/collections/${app.collections.alien}/webhook`, { method: 'PUT', headers: { authorization: `Bearer ${await app.bearer('alien')}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: hookUrl }) });
  expect(set.status).toBe(200);
  secret = ((await set.json()) as { secret: string }).secret;
}, 120_000);
afterAll(async () => {
  await app?.close();
  await zoo?.close();
  await new Promise((r) => hook?.close(r));
});

describe('release flow', () => {
  it('approving three images publishes them (coordinates stripped), writes the manifests and creates exactly three linked subjects', async () => {
    const imgs = await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).orderBy('stamp_index').execute();
    const approve = imgs.slice(0, 3).map((i) => i.id);
    const t = await app.bearer('rev');
    const res = await fetch(`${app.url}/api/v1/review/decisions`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify({ imageIds: approve, action: 'approve' }) });
    expect(res.status).toBe(200);

    const batch = await waitFor(
      () => app.s.db.selectFrom('upload_batches').selectAll().where('collection_id', '=', app.collections.alien).executeTakeFirst(),
      (b) => b?.state === 'uploaded',
    );
    expect(batch!.total).toBe(3);
    const published = await app.s.db.selectFrom('images').select(['id', 'state', 'public_key']).where('id', 'in', approve).execute();
    // Upload moves each image on from published to uploaded.
    expect(published.map((p) => [p.state, !!p.public_key])).toEqual(approve.map(() => ['uploaded', true]));
    // The fourth, not approved, never left quarantine.
    const fourth = await app.s.db.selectFrom('images').select(['state', 'public_key']).where('id', '=', imgs[3].id).executeTakeFirstOrThrow();
    expect(fourth).toEqual({ state: 'quarantined', public_key: null });

    const members = zoo.setMembers(batch!.subject_set_id!);
    expect(members).toHaveLength(3);
    expect(zoo.duplicateExternalIds()).toEqual([]);
    const ledger = await app.s.db.selectFrom('upload_items').select(['external_id', 'state', 'subject_id']).where('upload_batch_id', '=', batch!.id).execute();
    expect(new Set(ledger.map((l) => l.external_id))).toEqual(new Set(approve));
    expect(ledger.every((l) => l.state === 'linked' && members.includes(l.subject_id!))).toBe(true);

    // Progress is visible to the PI through the API.
    const progress = (await (await fetch(`${app.url}/api/v1/collections/${app.collections.alien}/uploads`, { headers: { authorization: `Bearer ${await app.bearer('alien')}` } })).json()) as { published: number; items: { state: string; total: number; linked: number }[] };
    expect(progress.published).toBe(3);
    expect(progress.items).toEqual([expect.objectContaining({ state: 'uploaded', total: 3, linked: 3 })]);

    // The PI's webhook hears about it, signed; a failed delivery is retried, not lost.
    const kinds = await waitFor(async () => received.map((r) => r.kind), (k) => k.includes('batch_uploaded'));
    expect(kinds).toEqual(expect.arrayContaining(['images_approved', 'batch_published', 'batch_uploaded']));
    // Standard Webhooks: v1, base64 HMAC-SHA256 of "id.timestamp.body" under the base64 key after whsec_; and the deprecated x-bridge-signature.
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    for (const r of received) {
      expect(r.standard).toBe(`v1,${createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64')}`);
      expect(Math.abs(Date.now() / 1000 - Number(r.timestamp))).toBeLessThan(300);
      expect(r.id).toBe((JSON.parse(r.body) as { id: string }).id);
      expect(r.signature).toBe(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
    }
    const uploaded = JSON.parse(received.find((r) => r.kind === 'batch_uploaded')!.body) as { collection: { id: string }; data: { seq: number } };
    expect(uploaded.collection.id).toBe(app.collections.alien);
    expect(JSON.stringify(received)).not.toContain(secret);
    // The first delivery got HTTP 500: recorded on the event, and its retry (hurried along) delivers it.
    const failed = await app.s.db.selectFrom('events').selectAll().where('delivery_error', 'like', '%HTTP 500%').execute();
    expect(failed).toHaveLength(1);
    expect(failed[0].delivered_at).toBeNull();
    const retry = await waitFor(async () => (await app.s.queues.queue('notify').getDelayed()).filter((j) => j.data.eventId === String(failed[0].id)), (j) => j.length === 1);
    await retry[0].promote();
    const redelivered = await waitFor(() => app.s.db.selectFrom('events').select(['delivered_at', 'delivery_attempts']).where('id', '=', failed[0].id).executeTakeFirstOrThrow(), (e) => e.delivered_at !== null);
    expect(redelivered.delivery_attempts).toBe(2);
    expect(received.filter((r) => r.kind === failed[0].kind).length).toBe(2);

    // The public image is served anonymously, with CORS, and carries no coordinates (policy: stripped).
    const url = `${app.url}/public/${published[0].public_key}`;
    const img = await fetch(url);
    expect(img.status).toBe(200);
    expect(img.headers.get('access-control-allow-origin')).toBe('*');
    const text = Buffer.from(await img.arrayBuffer()).toString('latin1');
    expect(text).not.toMatch(/Spatial|avm:|RA_DEG/);
  });

  it('takedown: one image, then the rest of its batch, leave Zooniverse and the public store, on record; another PI may not', async () => {
    const batch = await app.s.db.selectFrom('upload_batches').selectAll().where('collection_id', '=', app.collections.alien).executeTakeFirstOrThrow();
    const items = await app.s.db.selectFrom('upload_items').innerJoin('images', 'images.id', 'upload_items.image_id').select(['upload_items.image_id', 'upload_items.subject_id', 'images.public_key']).where('upload_batch_id', '=', batch.id).orderBy('images.stamp_index').execute();
    const post = async (who: string, body: unknown) => fetch(`${app.url}/api/v1/retractions`, { method: 'POST', headers: { authorization: `Bearer ${await app.bearer(who)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await post('other', { scope: 'images', imageIds: [items[0].image_id], reason: 'not mine' })).status).toBe(403);
    expect((await post('alien', { scope: 'images', imageIds: [items[0].image_id] })).status).toBe(400);

    const one = await post('alien', { scope: 'images', imageIds: [items[0].image_id], reason: 'the PI asked: wrong field' });
    expect(one.status).toBe(200);
    expect(((await one.json()) as { results: unknown[] }).results).toEqual([{ imageId: items[0].image_id, ok: true }]);
    expect(zoo.setMembers(batch.subject_set_id!)).not.toContain(items[0].subject_id);
    expect(zoo.allSubjects().find((x) => x.id === items[0].subject_id)?.deleted).toBe(true);
    expect((await fetch(`${app.url}/public/${items[0].public_key}`)).status).toBe(404);

    const rest = await post('rev', { scope: 'batch', uploadBatchId: batch.id, reason: 'data-rights panel withdrew approval' });
    expect(rest.status).toBe(200);
    expect(zoo.setMembers(batch.subject_set_id!)).toEqual([]);
    for (const it of items) expect((await fetch(`${app.url}/public/${it.public_key}`)).status).toBe(404);
    const states = await app.s.db.selectFrom('images').select('state').where('id', 'in', items.map((i) => i.image_id)).execute();
    expect(states.every((x) => x.state === 'retracted')).toBe(true);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action', 'reason']).where('action', '=', 'retract').orderBy('id').execute();
    expect(audit.map((a) => [a.actor, a.reason])).toEqual([
      ['alien', 'the PI asked: wrong field'],
      ['rev', 'data-rights panel withdrew approval'],
      ['rev', 'data-rights panel withdrew approval'],
    ]);
  });

  it("purge removes a PI's data everywhere, on record", async () => {
    const { purgeOwner } = await import('../../src/domain/purge.js');
    const keys = await app.s.db.selectFrom('images').select('quarantine_key').where('collection_id', '=', app.collections.alien).execute();
    const r = await purgeOwner({ repos: app.s.repos, lock: app.s.lock, store: app.s.store, log: app.s.log, panoptes: app.s.panoptes }, 'alien', 'cli:operator', 'the PI asked for deletion');
    expect(r.collections).toEqual([expect.objectContaining({ id: app.collections.alien, objectsDeleted: expect.any(Number) })]);
    expect(await app.s.db.selectFrom('collections').select('id').where('owner', '=', 'alien').execute()).toEqual([]);
    expect(await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).execute()).toEqual([]);
    for (const k of keys) expect(await app.s.store.head('quarantine', k.quarantine_key)).toBeUndefined();
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'reason']).where('action', '=', 'purge').execute();
    expect(audit).toEqual([{ actor: 'cli:operator', reason: 'the PI asked for deletion' }]);
  });
});
