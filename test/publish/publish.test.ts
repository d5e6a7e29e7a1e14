import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { NotPublishableError, publishImage, unpublishImage, withdrawAbandoned, type PublishDeps } from '../../src/domain/publish.js';
import { readChunks, readTextChunks, readXmp } from '../../src/imaging/png/png-chunks.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import type { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { DB_KINDS } from '../support/databases.js';
import { collection, seedImages, publishSetting } from './helpers.js';
import { createRepositories } from '../../src/db/repositories/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function publicFiles(store: FsObjectStore): Promise<string[]> {
  const root = join(store.root, 'public');
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (!e.name.startsWith('.#')) out.push(`${rel}${e.name}`);
    }
  };
  await walk(root, '');
  return out.sort();
}

/** Every text-bearing chunk's content, decoded loosely. */
function textChunkContents(png: Uint8Array): string[] {
  return readChunks(png)
    .filter((c) => c.type === 'tEXt' || c.type === 'iTXt' || c.type === 'zTXt')
    .map((c) => Buffer.from(c.data).toString('latin1'));
}

function pixels(png: Uint8Array) {
  const p = pngjs.PNG.sync.read(Buffer.from(png));
  return { width: p.width, height: p.height, data: Buffer.from(p.data) };
}

/** A store that dies right after its public write, as a worker killed at that moment would. */
function crashingAfterWrite(store: ObjectStore, onWrite: () => Promise<void> = async () => {}): ObjectStore {
  const s = Object.create(store) as ObjectStore;
  s.put = async (...a) => {
    const r = await store.put(...a);
    await onWrite();
    if (a[0] === 'public') throw new Error('crash');
    return r;
  };
  s.copy = async (...a) => {
    const r = await store.copy(...a);
    await onWrite();
    throw new Error('crash');
    return r;
  };
  return s;
}

for (const kind of DB_KINDS) {
  describe(`publishing on ${kind}`, () => {
    const env = publishSetting(kind);
    let d: PublishDeps;
    beforeAll(() => {
      d = { repos: createRepositories(env.t.db), store: env.fs.store, clock: { now: () => new Date('2026-11-25T10:00:00Z') } };
    });

    it('the fixture PNGs carry AVM and provenance to strip, and all differ in pixels', () => {
      expect(env.stamps.length).toBeGreaterThanOrEqual(12);
      for (const { png } of env.stamps) {
        expect(readXmp(png)).toMatch(/Spatial\.ReferenceValue/);
        expect(Object.keys(readTextChunks(png))).toEqual(expect.arrayContaining(['Software', 'Source', 'bridge:provenance']));
      }
      expect(new Set(env.stamps.map((s) => pixels(s.png).data.toString('base64'))).size).toBe(env.stamps.length);
    });

    it('refuses anything not approved, and writes nothing public', async () => {
      const c = await collection(env.t.db);
      const imgs = await seedImages(env.t.db, env.fs.store, c, [
        { png: env.stamps[0].png, stampIndex: 0, state: 'quarantined' },
        { png: env.stamps[1].png, stampIndex: 1, state: 'rejected' },
        { png: env.stamps[2].png, stampIndex: 2, state: 'failed' },
        { png: env.stamps[3].png, stampIndex: 3, state: 'retracted' },
      ]);
      const before = await publicFiles(env.fs.store);
      await expect(publishImage(d, imgs[0].id)).rejects.toThrow(/is quarantined \(still waiting for EPO review\): only approved images can be published/);
      await expect(publishImage(d, imgs[1].id)).rejects.toThrow(/is rejected.*only approved images can be published/);
      await expect(publishImage(d, imgs[2].id)).rejects.toThrow(/is failed.*only approved images can be published/);
      await expect(publishImage(d, imgs[3].id)).rejects.toThrow(/retracted and cannot be published again/);
      await expect(publishImage(d, imgs[0].id)).rejects.toBeInstanceOf(NotPublishableError);
      await expect(publishImage(d, '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/not found/);
      expect(await publicFiles(env.fs.store)).toEqual(before);
      const rows = await env.t.db.selectFrom('images').select(['state', 'public_key']).where('collection_id', '=', c.id).orderBy('stamp_index').execute();
      expect(rows).toEqual([
        { state: 'quarantined', public_key: null },
        { state: 'rejected', public_key: null },
        { state: 'failed', public_key: null },
        { state: 'retracted', public_key: null },
      ]);
    });

    it('strips AVM, WCS and provenance when the policy says so; pixels unchanged; recorded and audited', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[0].png, stampIndex: 0, strip: true }]);
      const r = await publishImage(d, img.id, 'publisher-test');
      expect(r.stripped).toBe(true);
      expect(r.alreadyPublished).toBe(false);
      const { body, contentType } = await env.fs.store.get('public', r.publicKey);
      expect(contentType).toBe('image/png');
      expect(r.publicSha256).toBe(sha(body));
      expect(r.publicKey).toBe(`subjects/${r.publicSha256.slice(0, 2)}/${r.publicSha256.slice(2, 4)}/${r.publicSha256}.png`);
      expect(r.url).toBe(`http://bridge.test/public/${r.publicKey}`);
      expect(r.publicSha256).not.toBe(img.sha256);

      expect(pixels(body)).toEqual(pixels(env.stamps[0].png));
      expect(readXmp(body)).toBeNull();
      for (const text of textChunkContents(body)) expect(text).not.toMatch(/RA|Dec|Spatial|xmp|provenance|\.fits/i);
      expect(readTextChunks(body)).toEqual({ Software: readTextChunks(env.stamps[0].png).Software });
      // The IDAT stream itself is the converter's, byte for byte.
      const idat = (p: Uint8Array) => Buffer.concat(readChunks(p).filter((x) => x.type === 'IDAT').map((x) => Buffer.from(x.data)));
      expect(idat(body).equals(idat(env.stamps[0].png))).toBe(true);

      const served = await env.fs.store.openPublic(r.publicKey);
      expect(served?.cacheControl).toBe('public, max-age=31536000, immutable');
      await served?.handle.close();

      const row = await env.t.db.selectFrom('images').selectAll().where('id', '=', img.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'published', public_key: r.publicKey, public_sha256: r.publicSha256 });
      expect(new Date(row.published_at!).toISOString()).toBe('2026-11-25T10:00:00.000Z');
      const tr = await env.t.db.selectFrom('transitions').selectAll().where('entity_id', '=', img.id).orderBy('id').execute();
      expect(tr.at(-1)).toMatchObject({ from_state: 'approved', to_state: 'published', actor: 'publisher-test' });
      const audit = await env.t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', img.id).execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ action: 'publish', actor: 'publisher-test', collection_id: c.id });
      expect(audit[0].detail).toMatchObject({ public_key: r.publicKey, stripped: true });
      // The quarantine copy is untouched.
      expect(sha((await env.fs.store.get('quarantine', img.quarantine_key)).body)).toBe(img.sha256);
    });

    it('keeps the AVM when the policy allows coordinates: the public bytes are the reviewed bytes', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[1].png, stampIndex: 0, strip: false }]);
      const r = await publishImage(d, img.id);
      expect(r).toMatchObject({ stripped: false, publicSha256: img.sha256 });
      const { body } = await env.fs.store.get('public', r.publicKey);
      expect(Buffer.from(body).equals(Buffer.from(env.stamps[1].png))).toBe(true);
      expect(readXmp(body)).toMatch(/Spatial\.ReferenceValue/);
    });

    it('is idempotent: publishing again writes nothing and returns the same key', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[2].png, stampIndex: 0 }]);
      const first = await publishImage(d, img.id);
      const again = await publishImage(d, img.id);
      expect(again).toEqual({ ...first, alreadyPublished: true });
      expect(await env.t.db.selectFrom('audit_log').select('id').where('entity_id', '=', img.id).execute()).toHaveLength(1);
      expect(await env.t.db.selectFrom('transitions').select('id').where('entity_id', '=', img.id).where('to_state', '=', 'published').execute()).toHaveLength(1);
    });

    it('a crash between the store write and the database update re-runs safely', async () => {
      const c = await collection(env.t.db);
      const [a, b] = await seedImages(env.t.db, env.fs.store, c, [
        { png: env.stamps[3].png, stampIndex: 0, strip: true },
        { png: env.stamps[4].png, stampIndex: 1, strip: false },
      ]);
      for (const img of [a, b]) {
        await expect(publishImage({ ...d, store: crashingAfterWrite(env.fs.store) }, img.id)).rejects.toThrow('crash');
        const mid = await env.t.db.selectFrom('images').selectAll().where('id', '=', img.id).executeTakeFirstOrThrow();
        // Still approved, with the key it is about to get on record.
        expect(mid.state).toBe('approved');
        expect(mid.public_key).toMatch(/^subjects\//);
        const r = await publishImage(d, img.id);
        expect(r.publicKey).toBe(mid.public_key);
        expect(sha((await env.fs.store.get('public', r.publicKey)).body)).toBe(r.publicSha256);
      }
      expect(await env.t.db.selectFrom('audit_log').select('id').where('entity_id', 'in', [a.id, b.id]).execute()).toHaveLength(2);
    });

    it('an image rejected while its bytes were being written is taken back out', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[5].png, stampIndex: 0, strip: true }]);
      const rejectMeanwhile = async () => {
        await env.t.db.updateTable('images').set({ state: 'rejected' }).where('id', '=', img.id).execute();
      };
      const racing = Object.create(env.fs.store) as ObjectStore;
      racing.put = async (...a) => {
        const r = await env.fs.store.put(...a);
        if (a[0] === 'public') await rejectMeanwhile();
        return r;
      };
      racing.copy = async () => {
        throw new Error('a stripped image is written with put');
      };
      let written = '';
      const spy = Object.create(racing) as ObjectStore;
      spy.put = async (...a) => {
        if (a[0] === 'public') written = a[1];
        return racing.put(...a);
      };
      await expect(publishImage({ ...d, store: spy }, img.id)).rejects.toThrow(/is rejected.*only approved images can be published/);
      expect(written).toMatch(/^subjects\//);
      expect(await env.fs.store.head('public', written)).toBeUndefined();
      const row = await env.t.db.selectFrom('images').select(['state', 'public_key']).where('id', '=', img.id).executeTakeFirstOrThrow();
      expect(row).toEqual({ state: 'rejected', public_key: null });
    });

    it('the sweeper withdraws what an interrupted publish left behind for an image rejected afterwards', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: env.stamps[0].png, stampIndex: 7, strip: false }]);
      await expect(publishImage({ ...d, store: crashingAfterWrite(env.fs.store) }, img.id)).rejects.toThrow('crash');
      const { public_key } = await env.t.db.selectFrom('images').select('public_key').where('id', '=', img.id).executeTakeFirstOrThrow();
      expect(await env.fs.store.head('public', public_key!)).toBeDefined();
      await env.t.db.updateTable('images').set({ state: 'rejected' }).where('id', '=', img.id).execute();
      expect(await withdrawAbandoned(d)).toBe(1);
      expect(await env.fs.store.head('public', public_key!)).toBeUndefined();
      expect(await env.t.db.selectFrom('images').select('public_key').where('id', '=', img.id).executeTakeFirstOrThrow()).toEqual({ public_key: null });
      expect(await withdrawAbandoned(d)).toBe(0);
    });

    it('retracting deletes the public object unless another published image shares it, and is audited', async () => {
      const c = await collection(env.t.db);
      const png = env.stamps[1].png;
      const [a, b] = await seedImages(env.t.db, env.fs.store, c, [
        { png, stampIndex: 0, strip: true },
        { png, stampIndex: 1, strip: true },
      ]);
      const ra = await publishImage(d, a.id);
      const rb = await publishImage(d, b.id);
      expect(rb.publicKey).toBe(ra.publicKey);
      expect(await unpublishImage(d, a.id, 'epo', 'takedown request')).toMatchObject({ deleted: false, alreadyRetracted: false });
      expect(await env.fs.store.head('public', ra.publicKey)).toBeDefined();
      expect(await unpublishImage(d, b.id, 'epo', 'takedown request')).toMatchObject({ deleted: true });
      expect(await env.fs.store.head('public', ra.publicKey)).toBeUndefined();
      expect(await unpublishImage(d, b.id, 'epo', null)).toMatchObject({ alreadyRetracted: true });
      const rows = await env.t.db.selectFrom('images').select('state').where('id', 'in', [a.id, b.id]).execute();
      expect(rows.every((r) => r.state === 'retracted')).toBe(true);
      const audit = await env.t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', b.id).where('action', '=', 'retract').execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'epo', reason: 'takedown request' });
      expect(audit[0].detail).toMatchObject({ public_key: ra.publicKey, deleted: true, from: 'published' });
      await expect(publishImage(d, a.id)).rejects.toThrow(/retracted/);
      const [q] = await seedImages(env.t.db, env.fs.store, c, [{ png, stampIndex: 2, state: 'quarantined' }]);
      await expect(unpublishImage(d, q.id, 'epo', null)).rejects.toThrow(/only published or uploaded images can be retracted/);
    });

    /** Frames as conversion records them: in quarantine, one row per band in location order. */
    async function addFrames(imageId: string, pngs: Record<string, Uint8Array>): Promise<void> {
      let position = 0;
      for (const [band, png] of Object.entries(pngs)) {
        const key = `images/frames/${sha(png)}.png`;
        await env.fs.store.put('quarantine', key, png, { contentType: 'image/png' });
        await env.t.db.insertInto('image_frames').values({ image_id: imageId, band, position: ++position, quarantine_key: key, sha256: sha(png), bytes: png.length }).execute();
      }
    }
    const frameRows = (imageId: string) => env.t.db.selectFrom('image_frames').selectAll().where('image_id', '=', imageId).orderBy('position').execute();

    it('frames go out with their image, stripped like it, and a frame two images share stays until neither needs it', async () => {
      const c = await collection(env.t.db);
      const [a, b] = await seedImages(env.t.db, env.fs.store, c, [
        { png: env.stamps[7].png, stampIndex: 0, strip: true },
        { png: env.stamps[8].png, stampIndex: 1, strip: true },
      ]);
      // Both images have the same g frame (a blank band, say); their r frames differ.
      await addFrames(a.id, { g: env.stamps[9].png, r: env.stamps[10].png });
      await addFrames(b.id, { g: env.stamps[9].png, r: env.stamps[11].png });
      await publishImage(d, a.id);
      await publishImage(d, b.id);
      const fa = await frameRows(a.id);
      const fb = await frameRows(b.id);
      expect(fa[0].public_key).toBe(fb[0].public_key);
      for (const f of [...fa, ...fb]) {
        const { body } = await env.fs.store.get('public', f.public_key!);
        expect(sha(body)).toBe(f.public_sha256);
        expect(readXmp(body)).toBeNull();
        expect(pixels(body).data.equals(pixels((await env.fs.store.get('quarantine', f.quarantine_key)).body).data)).toBe(true);
      }
      const audit = await env.t.db.selectFrom('audit_log').select('detail').where('entity_id', '=', a.id).where('action', '=', 'publish').executeTakeFirstOrThrow();
      expect(audit.detail).toMatchObject({ frames: fa.map((f) => ({ band: f.band, public_key: f.public_key })) });

      await unpublishImage(d, a.id, 'epo', 'takedown');
      expect(await env.fs.store.head('public', fa[1].public_key!)).toBeUndefined();
      expect(await env.fs.store.head('public', fa[0].public_key!)).toBeDefined();
      await unpublishImage(d, b.id, 'epo', 'takedown');
      for (const f of [...fa, ...fb]) expect(await env.fs.store.head('public', f.public_key!)).toBeUndefined();
    });

    /** A small PNG of its own, so that no earlier test has published the same bytes. */
    const freshPng = (seed: number) => {
      const p = new pngjs.PNG({ width: 8, height: 8 });
      for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 31 + seed * 97) & 255;
      return new Uint8Array(pngjs.PNG.sync.write(p));
    };

    it('an image rejected while its frames were being written takes them back out too', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: freshPng(1), stampIndex: 0, strip: false }]);
      await addFrames(img.id, { i: freshPng(2), r: freshPng(3) });
      const written: string[] = [];
      const racing = Object.create(env.fs.store) as ObjectStore;
      racing.copy = async (...a) => {
        const r = await env.fs.store.copy(...a);
        written.push(a[1].key);
        if (written.length === 1) await env.t.db.updateTable('images').set({ state: 'rejected' }).where('id', '=', img.id).execute();
        return r;
      };
      await expect(publishImage({ ...d, store: racing }, img.id)).rejects.toThrow(/is rejected/);
      expect(written).toHaveLength(3);
      for (const key of written) expect(await env.fs.store.head('public', key)).toBeUndefined();
      expect((await frameRows(img.id)).map((f) => f.public_key)).toEqual([null, null]);
    });

    it('the sweeper withdraws the frames of an interrupted publish too', async () => {
      const c = await collection(env.t.db);
      const [img] = await seedImages(env.t.db, env.fs.store, c, [{ png: freshPng(4), stampIndex: 0, strip: false }]);
      await addFrames(img.id, { i: freshPng(5) });
      // Dies on the colour image's copy, after the frame is out.
      await expect(publishImage({ ...d, store: crashingAfterWrite(env.fs.store) }, img.id)).rejects.toThrow('crash');
      const [frame] = await frameRows(img.id);
      await env.t.db.updateTable('images').set({ state: 'rejected' }).where('id', '=', img.id).execute();
      expect(await withdrawAbandoned(d)).toBe(1);
      expect(await env.fs.store.head('public', frame.public_key!)).toBeUndefined();
      expect((await frameRows(img.id))[0].public_key).toBeNull();
    });
  });
}
