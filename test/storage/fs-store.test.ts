import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { FsObjectStore, servePublic } from '../../src/adapters/storage/fs-store.js';
import { assertValidKey, contentHashKey, isValidKey } from '../../src/adapters/storage/keys.js';
import { ConflictError, NotFoundError, UpstreamRefusedError, ValidationError } from '../../src/domain/errors.js';
import { INVALID_KEYS, objectStoreContract } from './object-store.contract.js';

/*
 * rename() is the commit point of every write. The mock passes through unless
 * a test arms it, and can then hold a rename forever: the writer is frozen
 * exactly between "temp file written and synced" and "renamed into place",
 * which is what a crash there leaves on disk (no cleanup code gets to run).
 */
const renameControl = vi.hoisted(() => ({
  hold: undefined as undefined | ((from: string, to: string) => boolean),
  fail: undefined as undefined | ((from: string, to: string) => boolean),
  held: [] as Array<{ from: string; to: string }>,
  /** Every rename and directory fsync, in order of completion (renames) and of start/end (fsyncs). */
  log: [] as Array<{ what: 'renamed' | 'dir-sync-start' | 'dir-sync-end'; path: string; id?: number }>,
  /** Stretches each directory fsync by this long, so that other puts rename while one runs. */
  dirSyncMs: 0,
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const rename = async (from: string, to: string): Promise<void> => {
    if (renameControl.hold?.(String(from), String(to))) {
      renameControl.held.push({ from: String(from), to: String(to) });
      return new Promise<void>(() => undefined);
    }
    if (renameControl.fail?.(String(from), String(to))) {
      throw Object.assign(new Error('EIO: simulated I/O error, rename'), { code: 'EIO' });
    }
    await actual.rename(from, to);
    renameControl.log.push({ what: 'renamed', path: String(to) });
  };
  // Directories are opened read-only only to be fsynced: their fsyncs are logged with an id.
  let syncs = 0;
  const open = async (...args: Parameters<typeof actual.open>) => {
    const fh = await actual.open(...args);
    if (args[1] === actual.constants.O_RDONLY && (await fh.stat()).isDirectory()) {
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        const id = ++syncs;
        renameControl.log.push({ what: 'dir-sync-start', path: String(args[0]), id });
        await sync();
        if (renameControl.dirSyncMs) await new Promise((resolve) => setTimeout(resolve, renameControl.dirSyncMs));
        renameControl.log.push({ what: 'dir-sync-end', path: String(args[0]), id });
      };
    }
    return fh;
  };
  return { ...actual, rename, open, default: { ...actual, rename, open } };
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const modeOf = async (path: string): Promise<number> => (await fsp.stat(path)).mode & 0o777;

const scratch: string[] = [];
async function makeRoot(): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'fs-store-'));
  scratch.push(dir);
  return join(dir, 'store');
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Raw request: unlike fetch(), node:http sends the path exactly as given (no dot-segment normalisation). */
function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

afterAll(async () => {
  for (const dir of scratch) await fsp.rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  renameControl.hold = undefined;
  renameControl.fail = undefined;
  renameControl.held.length = 0;
  renameControl.log.length = 0;
  renameControl.dirSyncMs = 0;
});

objectStoreContract('FsObjectStore', async () => {
  const root = await makeRoot();
  let store!: FsObjectStore;
  const { server, base } = await listen((req, res) => servePublic(store)(req, res));
  store = new FsObjectStore({ root, publicBaseUrl: base });
  return { store, close: () => closeServer(server) };
});

describe('storage keys', () => {
  it('accepts relative slash-separated keys of safe characters', () => {
    for (const key of ['a.png', 'ab/cd/ef.png', 'A-Z_0.9/x', '.hidden', 'x'.repeat(200)]) {
      expect(isValidKey(key), key).toBe(true);
    }
  });

  it('refuses unsafe keys with a ValidationError naming the key', () => {
    for (const key of INVALID_KEYS) {
      expect(isValidKey(key), JSON.stringify(key)).toBe(false);
      expect(() => assertValidKey(key)).toThrow(ValidationError);
    }
    expect(() => assertValidKey('../etc/passwd')).toThrow(/"\.\.\/etc\/passwd"/);
    expect(() => assertValidKey(42)).toThrow(ValidationError);
  });

  it('contentHashKey fans out on the hash and keeps the extension', () => {
    const hash = sha256(new Uint8Array([1, 2, 3]));
    expect(contentHashKey(hash, 'png')).toBe(`${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.png`);
    expect(contentHashKey(hash.toUpperCase(), '.PNG')).toBe(`${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.png`);
    expect(isValidKey(contentHashKey(hash, 'fits'))).toBe(true);
    expect(() => contentHashKey('abc', 'png')).toThrow(ValidationError);
    expect(() => contentHashKey(hash, '../png')).toThrow(ValidationError);
    expect(() => contentHashKey(hash, '')).toThrow(ValidationError);
  });
});

describe('FsObjectStore on disk', () => {
  it('creates quarantine 0700/0600 and public 0755/0644 whatever the umask', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const previous = process.umask(0o077);
    try {
      await store.put('quarantine', 'a/b/secret.png', new Uint8Array([1]), { contentType: 'image/png' });
      await store.put('public', 'c/d/open.png', new Uint8Array([2]), { contentType: 'image/png' });
    } finally {
      process.umask(previous);
    }
    for (const dir of ['quarantine', 'quarantine/a', 'quarantine/a/b']) expect(await modeOf(join(root, dir)), dir).toBe(0o700);
    expect(await modeOf(join(root, 'quarantine/a/b/secret.png'))).toBe(0o600);
    for (const dir of ['public', 'public/c', 'public/c/d']) expect(await modeOf(join(root, dir)), dir).toBe(0o755);
    expect(await modeOf(join(root, 'public/c/d/open.png'))).toBe(0o644);
    expect(await modeOf(join(root, '.meta'))).toBe(0o700);
    // Public files are the raw bytes, so any static server could serve them too.
    expect([...(await fsp.readFile(join(root, 'public/c/d/open.png')))]).toEqual([2]);
  });

  it('tightens an existing world-readable quarantine directory', async () => {
    const root = await makeRoot();
    await fsp.mkdir(join(root, 'quarantine'), { recursive: true });
    await fsp.chmod(join(root, 'quarantine'), 0o777);
    await new FsObjectStore({ root, publicBaseUrl: 'http://x' }).check();
    expect(await modeOf(join(root, 'quarantine'))).toBe(0o700);
  });

  it('a crash between temp write and rename leaves no visible object', async () => {
    const root = await makeRoot();
    const crashing = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const target = join(root, 'public', 'ab', 'crash.png');
    renameControl.hold = (_from, to) => to === target;
    void crashing.put('public', 'ab/crash.png', randomBytes(2048), { contentType: 'image/png' });
    await vi.waitFor(() => expect(renameControl.held).toHaveLength(1));

    // The bytes are fully on disk, under a temp name that is not a key.
    const leftovers = await fsp.readdir(join(root, 'public', 'ab'));
    expect(leftovers).toHaveLength(1);
    expect(leftovers[0]).toMatch(/^\.#crash\.png\.[0-9a-f]+\.tmp$/);
    expect((await fsp.stat(join(root, 'public', 'ab', leftovers[0]))).size).toBe(2048);
    expect(isValidKey(`ab/${leftovers[0]}`)).toBe(false);

    // A fresh process (new store, same root) sees nothing.
    const afterRestart = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await expect(afterRestart.head('public', 'ab/crash.png')).resolves.toBeUndefined();
    await expect(afterRestart.get('public', 'ab/crash.png')).rejects.toBeInstanceOf(NotFoundError);
    const { server, base } = await listen(servePublic(afterRestart));
    try {
      expect((await rawRequest(base, 'GET', '/public/ab/crash.png')).status).toBe(404);
      expect((await rawRequest(base, 'GET', `/public/ab/${encodeURIComponent(leftovers[0])}`)).status).toBe(404);
    } finally {
      await closeServer(server);
    }

    // And writing the key again after the "restart" just works.
    renameControl.hold = undefined;
    const body = randomBytes(10);
    await afterRestart.put('public', 'ab/crash.png', body, { contentType: 'image/png' });
    expect((await afterRestart.head('public', 'ab/crash.png'))?.sha256).toBe(sha256(body));
  });

  it('a crash mid-overwrite keeps the old object whole (old bytes with old metadata)', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const v1 = new TextEncoder().encode('version one');
    await store.put('quarantine', 'doc.txt', v1, { contentType: 'text/plain' });

    renameControl.hold = (_from, to) => to === join(root, 'quarantine', 'doc.txt');
    void store.put('quarantine', 'doc.txt', new TextEncoder().encode('version two, different size'), { contentType: 'application/json' });
    await vi.waitFor(() => expect(renameControl.held).toHaveLength(1));

    const afterRestart = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await expect(afterRestart.head('quarantine', 'doc.txt')).resolves.toEqual({
      key: 'doc.txt',
      size: v1.byteLength,
      contentType: 'text/plain',
      sha256: sha256(v1),
    });
    const got = await afterRestart.get('quarantine', 'doc.txt');
    expect(Buffer.from(got.body).toString()).toBe('version one');
    expect(got.contentType).toBe('text/plain');
  });

  it('a failed rename cleans up its temp file and sidecar', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const target = join(root, 'quarantine', 'x', 'fail.png');
    renameControl.fail = (_from, to) => to === target;
    await expect(store.put('quarantine', 'x/fail.png', new Uint8Array([1, 2]), { contentType: 'image/png' })).rejects.toThrow(/EIO/);
    expect(await fsp.readdir(join(root, 'quarantine', 'x'))).toEqual([]);
    expect(await fsp.readdir(join(root, '.meta', 'quarantine', 'x'))).toEqual([]);
    await expect(store.head('quarantine', 'x/fail.png')).resolves.toBeUndefined();
  });

  it('concurrent puts into one directory share its fsyncs, and none returns before one that began after its rename', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await store.put('quarantine', 'group/warm.png', randomBytes(10), { contentType: 'image/png' });
    renameControl.log.length = 0;
    renameControl.dirSyncMs = 15;
    const dir = join(root, 'quarantine', 'group');
    const n = 24;
    const returned = new Map<string, number>();
    // Started a few milliseconds apart, so renames fall while a directory fsync runs.
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        new Promise((resolve) => setTimeout(resolve, i * 3)).then(() => store.put('quarantine', `group/img-${i}.png`, randomBytes(4096), { contentType: 'image/png' })).then(() => returned.set(join(dir, `img-${i}.png`), renameControl.log.length)),
      ),
    );
    const log = renameControl.log;
    const dirSyncs = log.filter((e) => e.what === 'dir-sync-start' && e.path === dir);
    expect(dirSyncs.length).toBeGreaterThanOrEqual(1);
    expect(dirSyncs.length).toBeLessThan(n);
    for (const [path, at] of returned) {
      const renamedAt = log.findIndex((e) => e.what === 'renamed' && e.path === path);
      expect(renamedAt).toBeGreaterThanOrEqual(0);
      // Some fsync of the directory started after this rename and ended before the put returned.
      const covering = log.slice(renamedAt, at).filter((e) => e.what === 'dir-sync-start' && e.path === dir).map((e) => e.id);
      const ended = new Set(log.slice(renamedAt, at).filter((e) => e.what === 'dir-sync-end').map((e) => e.id));
      expect(covering.some((id) => ended.has(id)), `${path}: no directory fsync between its rename and its return`).toBe(true);
    }
    for (let i = 0; i < n; i++) expect((await store.head('quarantine', `group/img-${i}.png`))?.size).toBe(4096);
  });

  it('concurrent overwrites of one key end consistent with a single sidecar', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(100 + i));
    await Promise.all(bodies.map((b, i) => store.put('public', 'race/k.png', b, { contentType: `image/x-${i}` })));
    const head = await store.head('public', 'race/k.png');
    const got = await store.get('public', 'race/k.png');
    expect(sha256(got.body)).toBe(head?.sha256);
    expect(got.contentType).toBe(head?.contentType);
    const index = bodies.findIndex((b) => sha256(b) === head?.sha256);
    expect(head?.contentType).toBe(`image/x-${index}`);
    expect((await fsp.readdir(join(root, '.meta', 'public', 'race'))).filter((n) => n.startsWith('k.png.'))).toHaveLength(1);
    expect(await fsp.readdir(join(root, 'public', 'race'))).toEqual(['k.png']);
  });

  it('refuses get() beyond the read cap but still reports the object', async () => {
    const store = new FsObjectStore({ root: await makeRoot(), publicBaseUrl: 'http://x', maxGetBytes: 10 });
    await store.put('quarantine', 'big.bin', new Uint8Array(11), { contentType: 'application/octet-stream' });
    await expect(store.get('quarantine', 'big.bin')).rejects.toBeInstanceOf(ValidationError);
    await expect(store.head('quarantine', 'big.bin')).resolves.toMatchObject({ size: 11 });
  });

  it('reports a key that clashes with a "directory" key as a ConflictError', async () => {
    const store = new FsObjectStore({ root: await makeRoot(), publicBaseUrl: 'http://x' });
    await store.put('quarantine', 'a/b.png', new Uint8Array([1]), { contentType: 'image/png' });
    await expect(store.put('quarantine', 'a', new Uint8Array([1]), { contentType: 'image/png' })).rejects.toBeInstanceOf(ConflictError);
    await store.put('quarantine', 'c', new Uint8Array([1]), { contentType: 'image/png' });
    await expect(store.put('quarantine', 'c/d.png', new Uint8Array([1]), { contentType: 'image/png' })).rejects.toBeInstanceOf(ConflictError);
    await expect(store.head('quarantine', 'a')).resolves.toBeUndefined();
    await expect(store.head('quarantine', 'c/d.png')).resolves.toBeUndefined();
  });

  it('ignores files it did not write (no sidecar)', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await store.check();
    await fsp.writeFile(join(root, 'public', 'stray.png'), 'not ours');
    await expect(store.head('public', 'stray.png')).resolves.toBeUndefined();
    await expect(store.get('public', 'stray.png')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('copy refuses to publish a source whose bytes no longer match their sha256', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await store.put('quarantine', 'rot.png', new TextEncoder().encode('original'), { contentType: 'image/png' });
    // Same size, in place (same inode): what bit rot or a stray writer looks like.
    const fh = await fsp.open(join(root, 'quarantine', 'rot.png'), 'r+');
    await fh.write(new TextEncoder().encode('X'), 0, 1, 0);
    await fh.close();
    await expect(
      store.copy({ area: 'quarantine', key: 'rot.png' }, { area: 'public', key: 'rot.png' }, { contentType: 'image/png' }),
    ).rejects.toBeInstanceOf(UpstreamRefusedError);
    await expect(store.head('public', 'rot.png')).resolves.toBeUndefined();
  });

  it('records the sha256 a caller passes without hashing again; a malformed one is refused, a wrong one never reaches public', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    const body = randomBytes(300);
    const put = await store.put('quarantine', 'h/right.png', body, { contentType: 'image/png', sha256: sha256(body) });
    expect(put.sha256).toBe(sha256(body));
    expect((await store.head('quarantine', 'h/right.png'))?.sha256).toBe(sha256(body));
    await expect(store.put('quarantine', 'h/bad.png', body, { contentType: 'image/png', sha256: 'ABC' })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.head('quarantine', 'h/bad.png')).resolves.toBeUndefined();
    // Trusted on put (a caller's bug), but publishing re-hashes: the wrong hash stops there.
    const wrong = sha256(new Uint8Array([9]));
    await store.put('quarantine', 'h/wrong.png', body, { contentType: 'image/png', sha256: wrong });
    await expect(
      store.copy({ area: 'quarantine', key: 'h/wrong.png' }, { area: 'public', key: 'h/wrong.png' }, { contentType: 'image/png' }),
    ).rejects.toBeInstanceOf(UpstreamRefusedError);
    await expect(store.head('public', 'h/wrong.png')).resolves.toBeUndefined();
  });

  it('makes a remembered directory again when it was removed behind its back', async () => {
    const root = await makeRoot();
    const store = new FsObjectStore({ root, publicBaseUrl: 'http://x' });
    await store.put('quarantine', 'images/c1/a.png', new Uint8Array([1]), { contentType: 'image/png' });
    await fsp.rm(join(root, 'quarantine', 'images'), { recursive: true });
    await fsp.rm(join(root, '.meta', 'quarantine', 'images'), { recursive: true });
    const body = new Uint8Array([2, 3]);
    await store.put('quarantine', 'images/c1/b.png', body, { contentType: 'image/png' });
    expect([...(await store.get('quarantine', 'images/c1/b.png')).body]).toEqual([2, 3]);
    expect(await modeOf(join(root, 'quarantine', 'images', 'c1'))).toBe(0o700);
  });

  it('publicUrl encodes under /public/ and trims the base', () => {
    const store = new FsObjectStore({ root: '/nonexistent', publicBaseUrl: 'https://bridge.example.org/' });
    expect(store.publicUrl('ab/cd/x.png')).toBe('https://bridge.example.org/public/ab/cd/x.png');
    expect(() => store.publicUrl('../quarantine/x.png')).toThrow(ValidationError);
  });
});

describe('servePublic over HTTP', () => {
  let root: string;
  let store: FsObjectStore;
  let server: Server;
  let base: string;
  const image = randomBytes(3000);
  const secret = new TextEncoder().encode('UNREVIEWED QUARANTINE BYTES');

  beforeAll(async () => {
    root = await makeRoot();
    store = new FsObjectStore({ root, publicBaseUrl: 'http://unused' });
    await store.put('public', 'ab/cd/image.png', image, { contentType: 'image/png' });
    await store.put('public', 'short.json', new TextEncoder().encode('{}'), { contentType: 'application/json', cacheControl: 'no-cache' });
    await store.put('quarantine', 'ab/cd/image.png', secret, { contentType: 'image/png' });
    await store.put('quarantine', 'secret.png', secret, { contentType: 'image/png' });
    ({ server, base } = await listen(servePublic(store)));
  });
  afterAll(async () => {
    await closeServer(server);
  });

  it('serves public objects with content type, caching, ETag, CORS and nosniff', async () => {
    const res = await rawRequest(base, 'GET', '/public/ab/cd/image.png');
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe('3000');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers.etag).toBe(`"${sha256(image)}"`);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['last-modified']).toBeDefined();
  });

  it('uses the stored cache control when one was given, and ignores query strings', async () => {
    const res = await rawRequest(base, 'GET', '/public/short.json?cachebust=1');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('answers 304 to a matching If-None-Match (strong, weak, list, *) and 200 otherwise', async () => {
    const etag = `"${sha256(image)}"`;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await rawRequest(base, 'GET', '/public/ab/cd/image.png', { 'If-None-Match': inm });
      expect(res.status, inm).toBe(304);
      expect(res.body.byteLength).toBe(0);
      expect(res.headers.etag).toBe(etag);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    const miss = await rawRequest(base, 'GET', '/public/ab/cd/image.png', { 'If-None-Match': '"other"' });
    expect(miss.status).toBe(200);
    expect(miss.body.equals(image)).toBe(true);
  });

  it('HEAD gives the headers without a body', async () => {
    const res = await rawRequest(base, 'HEAD', '/public/ab/cd/image.png');
    expect(res.status).toBe(200);
    expect(res.body.byteLength).toBe(0);
    expect(res.headers['content-length']).toBe('3000');
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers.etag).toBe(`"${sha256(image)}"`);
  });

  it('405 for other methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await rawRequest(base, method, '/public/ab/cd/image.png');
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
  });

  it('404 for missing objects and malformed keys', async () => {
    for (const path of ['/public/ab/cd/missing.png', '/public/', '/public', '/public/ab/cd/', '/public/%zz', '/public/ab//cd/image.png']) {
      expect((await rawRequest(base, 'GET', path)).status, path).toBe(404);
    }
  });

  it('never serves quarantine, whatever the path trick', async () => {
    const attempts = [
      '/public/secret.png',
      '/quarantine/secret.png',
      '/public/../quarantine/secret.png',
      '/public/ab/../../quarantine/secret.png',
      '/public/%2e%2e/quarantine/secret.png',
      '/public/%2E%2E/quarantine/secret.png',
      '/public/..%2fquarantine%2fsecret.png',
      '/public/%2e%2e%2fquarantine%2fsecret.png',
      '/public/..%5cquarantine%5csecret.png',
      '/public/..\\quarantine\\secret.png',
      '/public/ab\\..\\..\\quarantine\\secret.png',
      '/public/%252e%252e/quarantine/secret.png',
      '/public/./../quarantine/secret.png',
      '/public/%2fquarantine/secret.png',
      '/public/.meta/quarantine/secret.png',
      '/public/..%00/quarantine/secret.png',
      '//public/../quarantine/secret.png',
    ];
    for (const path of attempts) {
      const res = await rawRequest(base, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.includes(Buffer.from(secret)), path).toBe(false);
    }
  });

  it('does not follow a symlink planted in the public tree', async () => {
    await fsp.symlink(join(root, 'quarantine', 'secret.png'), join(root, 'public', 'planted.png'));
    const res = await rawRequest(base, 'GET', '/public/planted.png');
    expect(res.status).toBe(404);
    expect(res.body.includes(Buffer.from(secret))).toBe(false);
  });

  it('passes other paths to next() when mounted as middleware', async () => {
    const handler = servePublic(store);
    const { server: chained, base: chainedBase } = await listen((req, res) =>
      handler(req, res, () => {
        res.statusCode = 418;
        res.end('next');
      }),
    );
    try {
      expect((await rawRequest(chainedBase, 'GET', '/healthz')).status).toBe(418);
      expect((await rawRequest(chainedBase, 'GET', '/publicity')).status).toBe(418);
      expect((await rawRequest(chainedBase, 'GET', '/public/ab/cd/image.png')).status).toBe(200);
      expect((await rawRequest(chainedBase, 'GET', '/public/../quarantine/secret.png')).status).toBe(404);
    } finally {
      await closeServer(chained);
    }
  });
});
