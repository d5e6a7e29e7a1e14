import { createHash, randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NotFoundError, ValidationError } from '../../src/domain/errors.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';

/**
 * The behaviour every ObjectStore adapter owes the domain. Each adapter's
 * test file runs it against a real backend (a directory, an S3 server); the
 * harness also serves public objects over HTTP, so "public" is checked the
 * way Zooniverse sees it: an anonymous GET of publicUrl().
 */
export interface ObjectStoreHarness {
  store: ObjectStore;
  close(): Promise<void>;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

export const INVALID_KEYS: readonly string[] = [
  '',
  '/abs.png',
  'a//b.png',
  'a/',
  '.',
  '..',
  '../x.png',
  'a/../b.png',
  'a/./b.png',
  'a..b.png',
  'a\\b.png',
  'a b.png',
  'a%2fb.png',
  'a?b.png',
  'a#b.png',
  'caf\u00e9.png',
  'new\nline',
  `${'a'.repeat(201)}.png`,
  `${'abcdefgh/'.repeat(57)}x`, // 514 characters
];

export function objectStoreContract(name: string, makeHarness: () => Promise<ObjectStoreHarness>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let harness: ObjectStoreHarness;
    let store: ObjectStore;
    // Unique per run so a reused backend cannot make a test pass by accident.
    const prefix = `contract-${randomBytes(4).toString('hex')}`;
    const key = (rest: string): string => `${prefix}/${rest}`;

    beforeAll(async () => {
      harness = await makeHarness();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.close();
    });

    it('check() passes against a healthy backend', async () => {
      await expect(store.check()).resolves.toBeUndefined();
    });

    it('put/get/head round-trip bytes, content type and sha256', async () => {
      const body = randomBytes(1000);
      const k = key('round/trip.png');
      const stored = await store.put('quarantine', k, body, { contentType: 'image/png' });
      expect(stored).toEqual({ key: k, size: 1000, contentType: 'image/png', sha256: sha256(body) });

      const got = await store.get('quarantine', k);
      expect(got.contentType).toBe('image/png');
      expect(got.body).toBeInstanceOf(Uint8Array);
      expect(sameBytes(got.body, body)).toBe(true);

      await expect(store.head('quarantine', k)).resolves.toEqual(stored);
    });

    it('keeps the two areas apart', async () => {
      const k = key('areas/only-quarantine.png');
      await store.put('quarantine', k, bytesOf('q'), { contentType: 'image/png' });
      await expect(store.head('public', k)).resolves.toBeUndefined();
      await expect(store.get('public', k)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('round-trips an empty object', async () => {
      const k = key('empty.bin');
      const stored = await store.put('quarantine', k, new Uint8Array(0), { contentType: 'application/octet-stream' });
      expect(stored.size).toBe(0);
      expect(stored.sha256).toBe(sha256(new Uint8Array(0)));
      expect((await store.get('quarantine', k)).body.byteLength).toBe(0);
    });

    it('overwrites bytes and metadata together', async () => {
      const k = key('overwrite.txt');
      await store.put('quarantine', k, bytesOf('first version'), { contentType: 'text/plain' });
      const second = bytesOf('second, longer version');
      await store.put('quarantine', k, second, { contentType: 'application/json' });
      const got = await store.get('quarantine', k);
      expect(Buffer.from(got.body).toString()).toBe('second, longer version');
      expect(got.contentType).toBe('application/json');
      expect(await store.head('quarantine', k)).toMatchObject({ size: second.byteLength, sha256: sha256(second), contentType: 'application/json' });
    });

    it('delete removes the object and is idempotent', async () => {
      const k = key('delete/me.png');
      await store.put('quarantine', k, bytesOf('bye'), { contentType: 'image/png' });
      await store.delete('quarantine', k);
      await expect(store.head('quarantine', k)).resolves.toBeUndefined();
      await expect(store.get('quarantine', k)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.delete('quarantine', k)).resolves.toBeUndefined();
      await expect(store.delete('public', key('never/existed.png'))).resolves.toBeUndefined();
    });

    it('missing objects: get and copy throw NotFoundError, head returns undefined', async () => {
      const k = key('missing/nothing.png');
      await expect(store.get('quarantine', k)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.head('quarantine', k)).resolves.toBeUndefined();
      await expect(
        store.copy({ area: 'quarantine', key: k }, { area: 'public', key: key('missing/target.png') }, { contentType: 'image/png' }),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.head('public', key('missing/target.png'))).resolves.toBeUndefined();
    });

    it('refuses invalid keys in every operation with a ValidationError naming the key', async () => {
      const good = key('valid.png');
      await store.put('quarantine', good, bytesOf('x'), { contentType: 'image/png' });
      for (const bad of INVALID_KEYS) {
        const opts = { contentType: 'image/png' };
        const attempts: Array<() => unknown> = [
          () => store.put('quarantine', bad, bytesOf('x'), opts),
          () => store.put('public', bad, bytesOf('x'), opts),
          () => store.get('quarantine', bad),
          () => store.head('public', bad),
          () => store.delete('quarantine', bad),
          () => store.copy({ area: 'quarantine', key: bad }, { area: 'public', key: key('never.png') }, opts),
          () => store.copy({ area: 'quarantine', key: good }, { area: 'public', key: bad }, opts),
          () => store.publicUrl(bad),
        ];
        for (const attempt of attempts) {
          const error = await (async () => {
            try {
              await attempt();
            } catch (err) {
              return err;
            }
            return undefined;
          })();
          expect(error, `key ${JSON.stringify(bad)}`).toBeInstanceOf(ValidationError);
          if (bad.length > 0 && bad.length < 60) expect((error as Error).message).toContain(JSON.stringify(bad));
        }
      }
      await expect(store.head('public', key('never.png'))).resolves.toBeUndefined();
    });

    it('accepts a key at the 512-character limit', async () => {
      const k = `${prefix}/${'b'.repeat(190)}/${'c'.repeat(190)}/`;
      const long = k + 'd'.repeat(512 - k.length);
      expect(long).toHaveLength(512);
      await store.put('quarantine', long, bytesOf('long'), { contentType: 'text/plain' });
      expect(Buffer.from((await store.get('quarantine', long)).body).toString()).toBe('long');
    });

    it('refuses header-unsafe content types', async () => {
      await expect(store.put('quarantine', key('ct.png'), bytesOf('x'), { contentType: 'image/png\r\nX-Evil: 1' })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(store.put('quarantine', key('ct.png'), bytesOf('x'), { contentType: '' })).rejects.toBeInstanceOf(ValidationError);
    });

    it('copy quarantine -> public keeps the bytes and applies the new content type and cache control', async () => {
      const body = randomBytes(4096);
      const from = key('copy/source.bin');
      const to = key('copy/published.png');
      await store.put('quarantine', from, body, { contentType: 'application/octet-stream' });
      const cacheControl = 'public, max-age=600';
      const copied = await store.copy({ area: 'quarantine', key: from }, { area: 'public', key: to }, { contentType: 'image/png', cacheControl });
      expect(copied).toEqual({ key: to, size: 4096, contentType: 'image/png', sha256: sha256(body) });

      const got = await store.get('public', to);
      expect(sameBytes(got.body, body)).toBe(true);
      expect(got.contentType).toBe('image/png');
      await expect(store.head('public', to)).resolves.toEqual(copied);
      // The source is untouched.
      await expect(store.head('quarantine', from)).resolves.toMatchObject({ contentType: 'application/octet-stream', sha256: sha256(body) });

      const res = await fetch(store.publicUrl(to));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('cache-control')).toBe(cacheControl);
      expect(sameBytes(new Uint8Array(await res.arrayBuffer()), body)).toBe(true);
    });

    it('round-trips a 20 MB object (multipart where the backend has it) with the right sha256', async () => {
      const body = randomBytes(20 * 1000 * 1000);
      const k = key('big/twenty-mb.fits');
      const stored = await store.put('quarantine', k, body, { contentType: 'application/fits' });
      expect(stored.sha256).toBe(sha256(body));
      await expect(store.head('quarantine', k)).resolves.toEqual({ key: k, size: body.byteLength, contentType: 'application/fits', sha256: sha256(body) });
      const got = await store.get('quarantine', k);
      expect(got.body.byteLength).toBe(body.byteLength);
      expect(sha256(got.body)).toBe(sha256(body));
    });

    it('get reads into memory the caller allocates (the conversion threads\' shared memory), exactly filled', async () => {
      const asked: number[] = [];
      const alloc = (size: number): Uint8Array => {
        asked.push(size);
        return new Uint8Array(new SharedArrayBuffer(size));
      };
      for (const size of [0, 1000, 6 * 1000 * 1000 + 7]) {
        const body = randomBytes(size);
        const k = key(`alloc/${size}.fits`);
        await store.put('quarantine', k, body, { contentType: 'application/fits' });
        const got = await store.get('quarantine', k, { alloc });
        expect(got.body.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(got.body.byteLength).toBe(size);
        expect(sha256(got.body)).toBe(sha256(body));
        expect(got.contentType).toBe('application/fits');
      }
      expect(asked).toEqual([0, 1000, 6 * 1000 * 1000 + 7]);
      await expect(store.get('quarantine', key('alloc/missing.fits'), { alloc })).rejects.toBeInstanceOf(NotFoundError);
      expect(asked).toHaveLength(3);
    });

    it('publicUrl serves public objects anonymously and never quarantine ones', async () => {
      const published = key('url/published.png');
      const secret = key('url/secret.png');
      const publicBody = bytesOf('public pixels');
      await store.put('public', published, publicBody, { contentType: 'image/png' });
      await store.put('quarantine', secret, bytesOf('unreviewed pixels'), { contentType: 'image/png' });

      const url = store.publicUrl(published);
      expect(url.endsWith(`/${published}`)).toBe(true);
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(Buffer.from(await ok.arrayBuffer()).toString()).toBe('public pixels');

      const denied = await fetch(store.publicUrl(secret));
      expect(denied.status).toBe(404);
      expect(await denied.text()).not.toContain('unreviewed pixels');
    });
  });
}
