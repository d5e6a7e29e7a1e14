import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { releaseMapping } from '../../src/domain/stopped-work.js';
import { DEFAULT_RELEASES } from '../../src/domain/releases.js';

/**
 * What the admin page reads across the deployment: the release mapping in
 * force and where it came from (GET /releases), and the dead-letter list
 * (GET /failures): failed artifacts, failed stamps and stopped upload
 * batches of every collection, newest first, paged, each with its
 * collection, reason, time and attempts. Admins only.
 */
describe('GET /releases and GET /failures', () => {
  let app: BridgeApp;
  let dir: string;
  const file = () => join(dir, 'releases.yaml');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'admin-overview-'));
    await writeFile(file(), 'dp02:\n  release: dp0.2\n  prompt: false\n  proprietary: false\n  embargoHours: 0\nlsstcam:\n  release: prompt\n  prompt: true\n  proprietary: true\n  embargoHours: 80\n');
    app = await startBridgeApp({ owners: ['alien', 'rev'], stamps: 2, sweepSeconds: 3600, env: { RELEASES_FILE: file() } });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the operator mapping with where it came from; only admins may read it', async () => {
    const r = await app.call('boss', 'GET', '/releases');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      source: 'file',
      file: file(),
      items: [
        { label: 'dp02', release: 'dp0.2', prompt: false, proprietary: false, embargoHours: 0 },
        { label: 'lsstcam', release: 'prompt', prompt: true, proprietary: true, embargoHours: 80 },
      ],
    });
    for (const who of ['rev', 'alien']) expect((await app.call(who, 'GET', '/releases')).status).toBe(403);
  });

  it('without RELEASES_FILE the built-in mapping is in force', () => {
    const m = releaseMapping({ username: 'boss', roles: ['admin'] }, DEFAULT_RELEASES, undefined);
    expect(m.source).toBe('built-in');
    expect(m.file).toBeNull();
    expect(m.entries.map((e) => e.label)).toEqual(Object.keys(DEFAULT_RELEASES).sort((a, b) => a.localeCompare(b)));
    expect(() => releaseMapping({ username: 'rev', roles: ['reviewer'] }, DEFAULT_RELEASES, undefined)).toThrow(/admin/);
  });

  it('lists what stopped in every collection, newest first and paged; the retry route takes an artifact back up', async () => {
    const alien = app.collections.alien;
    const rev = app.collections.rev;
    const empty = await app.call('boss', 'GET', '/failures');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ items: [], counts: { artifact: 0, stamp: 0, batch: 0 }, next: null });

    // A dataset whose file went away, a stamp that failed to convert, an upload batch Zooniverse blocked.
    const [art] = await app.s.repos.artifacts.insertDiscovered(alien, [{ id: '7d1c0a44-5b1e-4c84-9d7e-000000000002', datasetType: 'zooniverse_cutout', run: 'u/alien/zoo-review', dataId: { band: 'r', tract: 9813, patch: 77 }, cursor: 'zzz' }], 'test');
    await app.s.repos.artifacts.markFailed(art, 'gone.fits is no longer in the retrieve-artifacts directory', 'retriever');
    await app.s.db.updateTable('artifacts').set({ attempts: 3 }).where('id', '=', art.id).execute();
    const stamp = await app.s.db.selectFrom('images').select('id').where('collection_id', '=', rev).orderBy('stamp_index').executeTakeFirstOrThrow();
    await app.s.db.updateTable('images').set({ state: 'failed', error: 'stamp 0: NaN everywhere', updated_at: new Date(Date.now() + 1000) }).where('id', '=', stamp.id).execute();
    const batch = await app.s.db.insertInto('upload_batches').values({ collection_id: alien, seq: 1, mode: 'api', state: 'blocked', error: 'Zooniverse refused: project 42 is not yours', updated_at: new Date(Date.now() + 2000) }).returning('id').executeTakeFirstOrThrow();

    for (const who of ['rev', 'alien']) expect((await app.call(who, 'GET', '/failures')).status).toBe(403);
    const all = await app.call('boss', 'GET', '/failures');
    expect(all.status).toBe(200);
    expect(all.body.counts).toEqual({ artifact: 1, stamp: 1, batch: 1 });
    expect(all.body.next).toBeNull();
    expect(all.body.items.map((i: { kind: string }) => i.kind)).toEqual(['batch', 'stamp', 'artifact']);
    const [b, s, a] = all.body.items;
    expect(b).toMatchObject({ kind: 'batch', id: batch.id, collectionId: alien, collection: 'u/alien/zoo-review', owner: 'alien', state: 'blocked', error: 'Zooniverse refused: project 42 is not yours', seq: 1, mode: 'api', attempts: null });
    expect(s).toMatchObject({ kind: 'stamp', id: stamp.id, collectionId: rev, collection: 'u/rev/zoo-review', owner: 'rev', state: 'failed', error: 'stamp 0: NaN everywhere', stamp: 0, attempts: null });
    expect(s.datasetIds.length).toBeGreaterThan(0);
    expect(a).toMatchObject({ kind: 'artifact', id: art.id, collectionId: alien, state: 'failed', attempts: 3, datasetId: '7d1c0a44-5b1e-4c84-9d7e-000000000002', datasetType: 'zooniverse_cutout', dataId: { band: 'r', tract: 9813, patch: 77 } });
    expect(a.error).toMatch(/gone\.fits/);
    expect(new Date(a.at).getTime()).toBeLessThan(new Date(b.at).getTime());

    // One at a time, every item once, in the same order.
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; next: string | null } } = await app.call('boss', 'GET', `/failures?limit=1${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((i) => i.id));
      next = page.body.next;
    } while (next);
    expect(seen).toEqual(all.body.items.map((i: { id: string }) => i.id));
    expect((await app.call('boss', 'GET', `/failures?after=${Buffer.from('["x","y"]').toString('base64url')}`)).status).toBe(400);
    expect((await app.call('boss', 'GET', '/failures?limit=0')).status).toBe(400);

    // The retry button's route: the artifact leaves the list, audited under the admin's name.
    const retried = await app.call('boss', 'POST', `/collections/${alien}/artifacts/${art.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.items).toEqual([{ artifactId: art.id, datasetId: '7d1c0a44-5b1e-4c84-9d7e-000000000002' }]);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', alien).where('action', '=', 'retry_artifact').execute();
    expect(audit).toEqual([{ actor: 'boss', action: 'retry_artifact' }]);
  }, 60_000);
});
