import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { waitFor } from '../support/wait.js';
import { standardSignature } from '../../src/domain/notify.js';
import { COLOUR_PRESETS } from '../../src/imaging/colour/presets.js';

/**
 * The API behind the PI page: a preview before registering (nothing stored),
 * a test event through the webhook sender, the export as a download, the
 * user's own events across collections, and `files_retrieved`.
 */
interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('PI dashboard API', () => {
  let app: BridgeApp;
  let receiver: Server;
  let port = 0;
  let answer = 200;
  const received: Received[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    port = (receiver.address() as AddressInfo).port;
    app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 3, webhookAllowedHosts: '127.0.0.1' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await new Promise((r) => receiver?.close(r));
  });

  const previewBody = { repository: 'dp02', collection: 'u/alien/zoo-review', sourceKind: 'prefix', datasetType: 'zooniverse_cutout', bands: ['g', 'r', 'i'] };

  it('previews the PI\'s own prefix collection: one PNG per preset per sampled stamp, and stores nothing', async () => {
    const before = await app.s.db.selectFrom('collections').select('id').execute();
    const r = await app.call('alien', 'POST', '/collections/preview', { ...previewBody, collection: 'u/alien/zoo-review' });
    expect(r.status).toBe(200);
    expect(r.body.presets).toEqual([...COLOUR_PRESETS]);
    expect(r.body.stamps.length).toBeGreaterThan(0);
    expect(r.body.stamps.length).toBeLessThanOrEqual(3);
    expect(r.body.channels).toEqual(['i', 'r', 'g']);
    for (const s of r.body.stamps) {
      expect(s.images.map((i: { preset: string }) => i.preset)).toEqual([...COLOUR_PRESETS]);
      for (const img of s.images) {
        expect(img.error).toBeNull();
        expect(img.dataUrl).toMatch(/^data:image\/png;base64,/);
        const png = Buffer.from(img.dataUrl.slice('data:image/png;base64,'.length), 'base64');
        expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      }
    }
    // Nothing stored: no collection row, nothing for the name.
    const after = await app.s.db.selectFrom('collections').select('id').execute();
    expect(after.length).toBe(before.length);
  }, 60_000);

  it("refuses a preview of another user's collection, and says in words when nothing is there", async () => {
    const other = await app.call('other', 'POST', '/collections/preview', previewBody);
    expect(other.status).toBe(403);
    expect(other.body.detail).toMatch(/u\/other\//);
    const none = await app.call('alien', 'POST', '/collections/preview', { ...previewBody, collection: 'u/alien/nothing-here' });
    expect(none.status).toBe(422);
    expect(none.body.detail).toMatch(/cannot be read.*nothing for collection/);
    const wrongBands = await app.call('alien', 'POST', '/collections/preview', { ...previewBody, bands: ['u', 'z'] });
    expect(wrongBands.status).toBe(400);
    expect(wrongBands.body.field).toBe('bands');
    const invalid = await app.call('alien', 'POST', '/collections/preview', { ...previewBody, repository: 'has space' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.issues[0].field).toBe('repository');
  });

  it('sends a signed test event through the webhook sender and answers the result', async () => {
    const cid = app.collections.alien;
    const set = await app.call('alien', 'PUT', `/collections/${cid}/webhook`, { url: `http://127.0.0.1:${port}/hook` });
    expect(set.status).toBe(200);
    const ok = await app.call('alien', 'POST', `/collections/${cid}/webhook/test`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ delivered: true, status: 200 });
    const got = await waitFor(async () => received.filter((x) => x.headers['x-bridge-event'] === 'test'), (x) => x.length === 1, 10_000);
    const h = got[0].headers;
    expect(JSON.parse(got[0].body)).toMatchObject({ kind: 'test', collection: { id: cid, name: 'u/alien/zoo-review' } });
    expect(h['webhook-signature']).toBe(standardSignature(set.body.secret, String(h['webhook-id']), Number(h['webhook-timestamp']), got[0].body));
    answer = 500;
    const bad = await app.call('alien', 'POST', `/collections/${cid}/webhook/test`);
    answer = 200;
    expect(bad.body).toMatchObject({ delivered: false, error: 'the webhook answered HTTP 500' });
    expect((await app.call('other', 'POST', `/collections/${cid}/webhook/test`)).status).toBe(403);
    await app.call('alien', 'DELETE', `/collections/${cid}/webhook`);
  });

  it('lists the PI\'s events across their collections, newest first, with files_retrieved once per poll batch', async () => {
    const r = await app.call('alien', 'GET', '/me/events?limit=200');
    expect(r.status).toBe(200);
    const kinds = r.body.items.map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === 'files_retrieved')).toHaveLength(1);
    const fr = r.body.items.find((e: { kind: string }) => e.kind === 'files_retrieved');
    expect(fr).toMatchObject({ collectionId: app.collections.alien, collectionName: 'u/alien/zoo-review', data: { seq: 1, datasets: 3 } });
    expect(fr.data.bytes).toBeGreaterThan(0);
    const ids = r.body.items.map((e: { id: string }) => Number(e.id));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    // Only their own collections.
    expect(r.body.items.every((e: { collectionId: string }) => e.collectionId === app.collections.alien)).toBe(true);
    // Paged.
    const p1 = await app.call('alien', 'GET', '/me/events?limit=1');
    expect(p1.body.items).toHaveLength(1);
    const p2 = await app.call('alien', 'GET', `/me/events?limit=1&before=${p1.body.next}`);
    expect(Number(p2.body.items[0].id)).toBeLessThan(Number(p1.body.items[0].id));
    // It is recorded in the same transaction as the last retrieval: the batch says when.
    const batch = await app.s.db.selectFrom('batches').select('files_retrieved_at').where('collection_id', '=', app.collections.alien).executeTakeFirstOrThrow();
    expect(batch.files_retrieved_at).not.toBeNull();
  });

  it('downloads the export zip: manifest.csv and the approved images; nothing left behind', async () => {
    const cid = app.collections.alien;
    const early = await app.call('alien', 'GET', `/collections/${cid}/export`);
    expect(early.status).toBe(400);
    expect(early.body.detail).toMatch(/no approved images/);
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', cid).execute()).map((i) => i.id);
    expect((await app.call('rev', 'POST', '/review/decisions', { imageIds: ids, action: 'approve' })).status).toBe(200);
    const res = await fetch(`${app.url}/api/v1/collections/${cid}/export`, { headers: { authorization: `Bearer ${await app.bearer('alien')}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="u-alien-zoo-review-export.zip"');
    const zip = await JSZip.loadAsync(Buffer.from(await res.arrayBuffer()));
    const manifest = await zip.file('manifest.csv')!.async('string');
    const lines = manifest.trim().split('\n');
    expect(lines[0]).toMatch(/^image_name_1,/);
    expect(lines).toHaveLength(ids.length + 1);
    for (const id of ids) {
      expect(manifest).toContain(`${id}.png`);
      const png = await zip.file(`${id}.png`)!.async('nodebuffer');
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    }
    expect((await fetch(`${app.url}/api/v1/collections/${cid}/export`, { headers: { authorization: `Bearer ${await app.bearer('other')}` } })).status).toBe(403);
  }, 60_000);
});
