import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pngjs from 'pngjs';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { COLOUR_PRESETS } from '../../src/imaging/colour/presets.js';

/**
 * GET /api/v1/images/{id}/render?preset=...: a stored image rendered again in
 * another preset, over real HTTP on the test bridge (real OIDC tokens, the
 * pipeline's own quarantined FITS files).
 */
let app: BridgeApp;
let image: { id: string; width: number; height: number; quarantine_key: string; stamp_index: number };

beforeAll(async () => {
  app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 2 });
  image = await app.s.db
    .selectFrom('images')
    .select(['id', 'width', 'height', 'quarantine_key', 'stamp_index'])
    .where('collection_id', '=', app.collections.alien)
    .where('state', '!=', 'failed')
    .orderBy('stamp_index')
    .executeTakeFirstOrThrow();
}, 120_000);
afterAll(async () => {
  await app?.close();
});

async function render(who: string | null, id: string, query: string): Promise<Response> {
  const headers: Record<string, string> = who ? { authorization: `Bearer ${await app.bearer(who)}` } : {};
  return fetch(`${app.url}/api/v1/images/${id}/render${query}`, { headers });
}

async function png(res: Response): Promise<pngjs.PNG> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(res.headers.get('cache-control')).toBe('private, max-age=300');
  return pngjs.PNG.sync.read(Buffer.from(await res.arrayBuffer()));
}

describe('GET /images/{id}/render', () => {
  it('renders the stored stamp in another preset at the stored size; presets differ', async () => {
    const lupton = await png(await render('alien', image.id, '?preset=lupton'));
    const sky = await png(await render('alien', image.id, '?preset=sky-asinh'));
    for (const p of [lupton, sky]) expect([p.width, p.height]).toEqual([image.width, image.height]);
    expect(Buffer.compare(lupton.data, sky.data)).not.toBe(0);
    // The reviewer sees it too (reviewers oversee every collection).
    expect((await render('rev', image.id, '?preset=linear')).status).toBe(200);
  });

  it('in the preset it was stored in, gives the stored pixels back: same stamp, bands and channel order', async () => {
    // The test collection was converted with the auto preset.
    const again = await png(await render('alien', image.id, '?preset=auto'));
    const stored = pngjs.PNG.sync.read(Buffer.from((await app.s.store.get('quarantine', image.quarantine_key)).body));
    expect([again.width, again.height]).toEqual([stored.width, stored.height]);
    expect(Buffer.compare(again.data, stored.data)).toBe(0);
  });

  it('an unknown or missing preset is a 400 naming the field and listing the presets', async () => {
    for (const q of ['?preset=sepia', '']) {
      const res = await render('alien', image.id, q);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      const body = (await res.json()) as { code: string; field: string; presets: string[]; detail: string };
      expect(body.code).toBe('validation_failed');
      expect(body.field).toBe('preset');
      expect(body.presets).toEqual([...COLOUR_PRESETS]);
      expect(body.detail).toContain('sky-asinh');
    }
  });

  it('anonymous is 401, another PI 403, an unknown image 404', async () => {
    expect((await render(null, image.id, '?preset=lupton')).status).toBe(401);
    expect((await render('other', image.id, '?preset=lupton')).status).toBe(403);
    expect((await render('alien', '00000000-0000-4000-8000-000000000000', '?preset=lupton')).status).toBe(404);
  });

  it('an image whose FITS files left quarantine is a 409 that says so', async () => {
    // The rev collection's first image: its band files are removed from quarantine.
    const img = await app.s.db.selectFrom('images').select(['id', 'group_key', 'collection_id']).where('collection_id', '=', app.collections.rev).where('state', '!=', 'failed').orderBy('stamp_index').executeTakeFirstOrThrow();
    const arts = await app.s.repos.artifacts.group(img.collection_id, img.group_key);
    const keys = arts.map((a) => a.object_key).filter((k): k is string => !!k);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) await app.s.store.delete('quarantine', k);
    const res = await render('rev', img.id, '?preset=lupton');
    expect(res.status).toBe(409);
    const body = (await res.json()) as { detail: string; reason: string };
    expect(body.detail).toMatch(/no longer in quarantine/);
    expect(body.reason).toBe('source_gone');
  });
});
