import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import pngjs from 'pngjs';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';
import { readXmp } from '../../src/imaging/png/png-chunks.js';
import { exportCollection } from '../../src/domain/export.js';
// The tests' own CSV reader, independent of the code under test.
import { parseCsv } from '../publish/helpers.js';

/**
 * A PI who asks for flipbook subjects (colour image, then one grey frame per
 * band), batches of two in one subject set, and extra columns from a table:
 * set through the API, converted, reviewed, published and uploaded by the
 * real pipeline, checked at the Panoptes double.
 */
let app: BridgeApp;
let zoo: PanoptesServerDouble;

const decode = (b: Uint8Array) => pngjs.PNG.sync.read(Buffer.from(b));

beforeAll(async () => {
  zoo = await PanoptesServerDouble.start();
  app = await startBridgeApp({
    owners: ['alien'],
    stamps: 3,
    zooniverse: { baseUrl: zoo.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET },
    settings: { zooniverseProjectId: '1', uploadMode: 'api', subjectFrames: true, maxBatchSize: 2, subjectSetPer: 'collection', extraMetadata: { columns: { survey: 'DP0.2 demo' } } },
  });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await zoo?.close();
});

async function as(who: string, method: string, path: string, body?: string, type = 'application/json') {
  return fetch(`${app.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${await app.bearer(who)}`, ...(body !== undefined ? { 'content-type': type } : {}) }, body });
}

describe('flipbook subjects with PI settings', () => {
  it('refuses settings that cannot work, naming the field', async () => {
    const big = await as('alien', 'PATCH', `/collections/${app.collections.alien}`, JSON.stringify({ maxBatchSize: 20_000 }));
    expect(big.status).toBe(400);
    expect(JSON.stringify(await big.json())).toMatch(/maxBatchSize.*10,000/);
    const reserved = await as('alien', 'PATCH', `/collections/${app.collections.alien}`, JSON.stringify({ extraMetadata: { columns: { '#content_hash': 'x' } } }));
    expect(reserved.status).toBe(400);
    expect(((await reserved.json()) as { detail: string }).detail).toMatch(/"#content_hash" is set by the bridge/);
    const table = await as('alien', 'PUT', `/collections/${app.collections.alien}/extra-metadata`, 'object,ml_score\n0,0.9\n0,0.8\n', 'text/csv');
    expect(table.status).toBe(400);
    expect(((await table.json()) as { detail: string }).detail).toMatch(/line 3: object "0" already has a row on line 2/);
  });

  it('takes the PI table of ML scores, keyed by stamp index', async () => {
    const res = await as('alien', 'PUT', `/collections/${app.collections.alien}/extra-metadata`, 'object,ml_score,#priority\n0,0.9,3\n1,0.5,2\n2,0.1,1\n', 'text/csv');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ subjectFrames: true, maxBatchSize: 2, subjectSetPer: 'collection', extraMetadata: { columns: { survey: 'DP0.2 demo' }, objects: 3, objectColumns: ['ml_score', '#priority'] } });
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', app.collections.alien).where('action', '=', 'settings').execute();
    expect(audit.map((a) => a.actor)).toEqual(['alien', 'alien']);
  });

  it('renders a grey frame per band beside each colour image, and shows them to the reviewer', async () => {
    const images = await app.s.db.selectFrom('images').select(['id', 'width', 'height']).where('collection_id', '=', app.collections.alien).orderBy('stamp_index').execute();
    expect(images).toHaveLength(3);
    const res = await as('rev', 'GET', `/review/images?collection=${app.collections.alien}&state=quarantined`);
    const items = ((await res.json()) as { items: { id: string; frames: { band: string; previewUrl: string }[] }[] }).items;
    for (const item of items) {
      // Channel order of the collection (i, r, g): the order volunteers flip through.
      expect(item.frames.map((f) => f.band)).toEqual(['i', 'r', 'g']);
      const img = images.find((i) => i.id === item.id)!;
      const frame = await fetch(new URL(item.frames[1].previewUrl, app.url));
      expect(frame.status).toBe(200);
      const png = decode(new Uint8Array(await frame.arrayBuffer()));
      expect([png.width, png.height]).toEqual([img.width, img.height]);
      // Grey: every pixel has R = G = B.
      for (let p = 0; p < png.data.length; p += 4) expect(png.data[p] === png.data[p + 1] && png.data[p + 1] === png.data[p + 2]).toBe(true);
    }
    // The signature is what opens a frame: without it, nothing.
    const bare = new URL(items[0].frames[0].previewUrl, app.url);
    bare.search = '';
    expect((await fetch(bare)).status).not.toBe(200);
  });

  it('publishes and uploads each subject with four locations (colour, i, r, g), in batches of two in one set, with the PI columns', async () => {
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', app.collections.alien).orderBy('stamp_index').execute()).map((i) => i.id);
    const res = await as('rev', 'POST', '/review/decisions', JSON.stringify({ imageIds: ids, action: 'approve' }));
    expect(res.status).toBe(200);
    const batches = await waitFor(
      () => app.s.db.selectFrom('upload_batches').selectAll().where('collection_id', '=', app.collections.alien).orderBy('seq').execute(),
      (b) => b.length === 2 && b.every((x) => x.state === 'uploaded'),
      60_000,
    );
    expect(batches.map((b) => b.total)).toEqual([2, 1]);
    expect(new Set(batches.map((b) => b.subject_set_id)).size).toBe(1);
    const members = zoo.setMembers(batches[0].subject_set_id!);
    expect(members).toHaveLength(3);
    expect(zoo.duplicateExternalIds()).toEqual([]);

    const frames = await app.s.db.selectFrom('image_frames').selectAll().where('image_id', 'in', ids).orderBy('image_id').orderBy('position').execute();
    const subjects = members.map((id) => zoo.subject(id)!);
    for (const s of subjects) {
      const imageId = s.externalId!;
      const img = await app.s.db.selectFrom('images').select(['public_key', 'stamp_index']).where('id', '=', imageId).executeTakeFirstOrThrow();
      const own = frames.filter((f) => f.image_id === imageId);
      expect(s.locations.map((l) => Object.keys(l)[0])).toEqual(['image/png', 'image/png', 'image/png', 'image/png']);
      const urls = s.locations.map((l) => Object.values(l)[0]);
      expect(urls[0]).toMatch(new RegExp(`/public/${img.public_key}$`));
      expect(urls.slice(1)).toEqual(own.map((f) => expect.stringMatching(new RegExp(`/public/${f.public_key}$`))));
      expect(s.metadata).toMatchObject({ survey: 'DP0.2 demo', ml_score: [0.9, 0.5, 0.1][img.stamp_index], '#priority': [3, 2, 1][img.stamp_index], '#bridge_image_id': imageId });
      // Every frame is public, anonymously, and (for this release) without coordinates, pixels as reviewed.
      // (Fetched from this test's server: the configured public base URL names the default port.)
      for (const f of own) {
        const got = await fetch(`${app.url}/public/${f.public_key}`);
        expect(got.status).toBe(200);
        expect(got.headers.get('content-type')).toBe('image/png');
        const bytes = new Uint8Array(await got.arrayBuffer());
        expect(readXmp(bytes)).toBeNull();
        const reviewed = (await app.s.store.get('quarantine', f.quarantine_key)).body;
        expect(readXmp(reviewed)).toMatch(/Spatial/);
        expect(decode(bytes).data.equals(decode(reviewed).data)).toBe(true);
      }
    }

    // The same subjects for the Project Builder: four files per row, named in the manifest.
    const dir = await mkdtemp(join(tmpdir(), 'flipbook-export-'));
    try {
      const out = await exportCollection({ repos: app.s.repos, store: app.s.store }, app.collections.alien, join(dir, 'x.zip'));
      expect(out.images).toBe(3);
      const zip = await JSZip.loadAsync(await readFile(out.path));
      const [header, ...rows] = parseCsv(await zip.file('manifest.csv')!.async('string')).filter((r) => r.length > 1);
      expect(header.slice(0, 4)).toEqual(['image_name_1', 'image_name_2', 'image_name_3', 'image_name_4']);
      for (const r of rows) {
        expect(r.slice(1, 4)).toEqual(['i', 'r', 'g'].map((b) => `${r[0].replace(/\.png$/, '')}-${b}.png`));
        for (const f of r.slice(0, 4)) expect(zip.file(f)).not.toBeNull();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes an image down with its frames: subject gone, every public object gone', async () => {
    const img = await app.s.db.selectFrom('images').select(['id', 'public_key']).where('collection_id', '=', app.collections.alien).orderBy('stamp_index').executeTakeFirstOrThrow();
    const frames = await app.s.db.selectFrom('image_frames').select('public_key').where('image_id', '=', img.id).execute();
    expect(frames).toHaveLength(3);
    const res = await as('alien', 'POST', '/retractions', JSON.stringify({ scope: 'images', imageIds: [img.id], reason: 'the PI asked' }));
    expect(res.status).toBe(200);
    for (const key of [img.public_key, ...frames.map((f) => f.public_key)]) expect((await fetch(`${app.url}/public/${key}`)).status).toBe(404);
    expect(zoo.allSubjects().find((s) => s.externalId === img.id)?.deleted).toBe(true);
  });
});
