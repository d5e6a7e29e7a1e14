import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/adapters/storage/s3-store.js';
import { NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from '../../src/domain/errors.js';
import { objectStoreContract } from './object-store.contract.js';
import { S3_CREDENTIALS, startS3Double, type Fault, type S3Double, type Seen } from '../support/s3-double.js';

const QUARANTINE = 'rubin-quarantine';
const PUBLIC = 'rubin-public';
const CREDENTIALS = S3_CREDENTIALS;

let s3: S3Double;
let endpoint: string;
let seen: Seen[];
let faults: Fault[];

async function startBackend(): Promise<void> {
  s3 = await startS3Double([QUARANTINE, PUBLIC]);
  ({ endpoint, seen, faults } = s3);
}

async function stopBackend(): Promise<void> {
  await s3?.stop();
}

function makeStore(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
    quarantineBucket: QUARANTINE,
    publicBucket: PUBLIC,
    ...overrides,
  });
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const objectPath = (bucket: string, key: string): string => `/${bucket}/${key}`;
/** The SDK appends `?x-id=<Operation>`; requests are matched on the path alone. */
const pathOf = (r: Seen): string => r.url.split('?')[0];
const requestsFor = (bucket: string, key: string): Seen[] => seen.filter((r) => pathOf(r) === objectPath(bucket, key));

beforeAll(startBackend);
afterAll(stopBackend);
afterEach(() => {
  faults.length = 0;
});

objectStoreContract('S3ObjectStore (s3rver, path-style)', async () => {
  const store = makeStore();
  return { store, close: async () => store.close() };
});

describe('S3ObjectStore on the wire', () => {
  let store: S3ObjectStore;
  beforeAll(() => {
    store = makeStore();
  });
  afterAll(() => store.close());

  it('sends a SHA-256 checksum, the sha256 metadata and no ACL with every upload', async () => {
    const body = randomBytes(1234);
    await store.put('quarantine', 'wire/small.png', body, { contentType: 'image/png' });
    const [put] = requestsFor(QUARANTINE, 'wire/small.png').filter((r) => r.method === 'PUT');
    expect(put.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(body).digest('base64'));
    expect(put.headers['x-amz-meta-sha256']).toBe(sha256(body));
    expect(put.headers['content-type']).toBe('image/png');
    // Nothing in the whole run may have asked for an ACL: visibility is the bucket policy's job.
    for (const r of seen) {
      expect(Object.keys(r.headers).filter((h) => h === 'x-amz-acl' || h.startsWith('x-amz-grant-'))).toEqual([]);
      expect(r.url).not.toMatch(/[?&]acl\b/);
    }
  });

  it('uploads bodies over the threshold as checksummed multipart parts', async () => {
    const body = randomBytes(20 * 1000 * 1000);
    await store.put('quarantine', 'wire/big.fits', body, { contentType: 'application/fits' });
    const reqs = requestsFor(QUARANTINE, 'wire/big.fits');
    const create = reqs.find((r) => r.method === 'POST' && /[?&]uploads\b/.test(r.url));
    expect(create?.headers['x-amz-checksum-algorithm']).toBe('SHA256');
    expect(create?.headers['x-amz-meta-sha256']).toBe(sha256(body));
    const parts = reqs.filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url));
    // Parts go up concurrently, so their arrival order is not fixed.
    const partSizes = parts.map((p) => [Number(/[?&]partNumber=(\d+)/.exec(p.url)?.[1]), p.bodyLength]).sort((a, b) => a[0] - b[0]);
    expect(partSizes).toEqual([
      [1, 8 * 1024 * 1024],
      [2, 8 * 1024 * 1024],
      [3, 20 * 1000 * 1000 - 16 * 1024 * 1024],
    ]);
    for (const part of parts) expect(part.headers['x-amz-checksum-sha256']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(reqs.filter((r) => r.method === 'POST' && /[?&]uploadId=/.test(r.url))).toHaveLength(1);
    expect((await store.head('quarantine', 'wire/big.fits'))?.sha256).toBe(sha256(body));
  });

  it('copies server-side with REPLACE metadata, pinned to the version it read', async () => {
    const body = randomBytes(500);
    await store.put('quarantine', 'wire/src.png', body, { contentType: 'application/octet-stream' });
    const before = seen.length;
    await store.copy({ area: 'quarantine', key: 'wire/src.png' }, { area: 'public', key: 'ab/cd/pub.png' }, { contentType: 'image/png' });
    const during = seen.slice(before);
    expect(during.filter((r) => r.method === 'GET')).toEqual([]);
    const copy = during.find((r) => r.method === 'PUT');
    expect(copy && pathOf(copy)).toBe(objectPath(PUBLIC, 'ab/cd/pub.png'));
    expect(copy?.headers['x-amz-copy-source']).toBe(`${QUARANTINE}/wire/src.png`);
    expect(copy?.headers['x-amz-metadata-directive']).toBe('REPLACE');
    expect(copy?.headers['x-amz-copy-source-if-match']).toMatch(/^"[0-9a-f]+"$/);
    expect(copy?.headers['x-amz-meta-sha256']).toBe(sha256(body));
    expect(copy?.headers['content-type']).toBe('image/png');
    // Public objects get the immutable default when no cache control is given.
    expect(copy?.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(copy?.bodyLength).toBe(0);
  });

  it('a 500 on the first PUT is retried by the SDK and the upload succeeds', async () => {
    const key = 'faults/retry-once.png';
    faults.push({ match: (r) => r.method === 'PUT' && pathOf(r) === objectPath(QUARANTINE, key), remaining: 1, action: { status: 500, code: 'InternalError' } });
    const body = randomBytes(64);
    await expect(store.put('quarantine', key, body, { contentType: 'image/png' })).resolves.toMatchObject({ sha256: sha256(body) });
    expect(requestsFor(QUARANTINE, key).filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(sha256((await store.get('quarantine', key)).body)).toBe(sha256(body));
  });

  it('persistent throttling becomes an UpstreamError once retries are spent', async () => {
    const key = 'faults/always-slow.png';
    const impatient = makeStore({ maxAttempts: 2 });
    faults.push({ match: (r) => pathOf(r) === objectPath(QUARANTINE, key), remaining: 100, action: { status: 503, code: 'SlowDown' } });
    try {
      const err = await impatient.put('quarantine', key, randomBytes(10), { contentType: 'image/png' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).retryAfterMs).toBeGreaterThan(0);
      expect((err as Error).message).toContain(`${QUARANTINE}/${key}`);
      expect(requestsFor(QUARANTINE, key)).toHaveLength(2);
    } finally {
      impatient.close();
    }
  });

  it('a body corrupted in transit is refused by the checksum (BadDigest -> UpstreamError) and nothing is stored', async () => {
    const key = 'faults/corrupted.png';
    faults.push({ match: (r) => r.method === 'PUT' && pathOf(r) === objectPath(QUARANTINE, key), remaining: 1, action: 'flip-byte' });
    const err = await store.put('quarantine', key, randomBytes(100), { contentType: 'image/png' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain('BadDigest');
    await expect(store.head('quarantine', key)).resolves.toBeUndefined();
  });

  it('a dropped connection is retried', async () => {
    const key = 'faults/dropped.png';
    faults.push({ match: (r) => r.method === 'PUT' && pathOf(r) === objectPath(QUARANTINE, key), remaining: 1, action: 'drop-connection' });
    await store.put('quarantine', key, randomBytes(100), { contentType: 'image/png' });
    expect(await store.head('quarantine', key)).toBeDefined();
  });

  it('a refusal (403) is not retried and surfaces as UpstreamRefusedError', async () => {
    const key = 'faults/denied.png';
    faults.push({ match: (r) => pathOf(r) === objectPath(QUARANTINE, key), remaining: 100, action: { status: 403, code: 'AccessDenied' } });
    await expect(store.put('quarantine', key, randomBytes(10), { contentType: 'image/png' })).rejects.toBeInstanceOf(UpstreamRefusedError);
    expect(requestsFor(QUARANTINE, key)).toHaveLength(1);
  });

  it('a failed part aborts the multipart upload', async () => {
    const key = 'faults/multipart.fits';
    faults.push({
      match: (r) => r.method === 'PUT' && r.url.startsWith(`${objectPath(QUARANTINE, key)}?`) && /[?&]partNumber=2\b/.test(r.url),
      remaining: 100,
      action: { status: 403, code: 'AccessDenied' },
    });
    const err = await store.put('quarantine', key, randomBytes(9 * 1024 * 1024), { contentType: 'application/fits' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamRefusedError);
    const reqs = requestsFor(QUARANTINE, key);
    expect(reqs.filter((r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url))).toHaveLength(1);
    expect(reqs.filter((r) => r.method === 'POST' && /[?&]uploadId=/.test(r.url))).toEqual([]);
    await expect(store.head('quarantine', key)).resolves.toBeUndefined();
  });

  it('get() checks the bytes against the recorded sha256', async () => {
    const raw = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    try {
      await raw.send(
        new PutObjectCommand({ Bucket: QUARANTINE, Key: 'foreign/lying.png', Body: 'abc', ContentType: 'image/png', Metadata: { sha256: sha256(new Uint8Array([0])) } }),
      );
      await expect(store.get('quarantine', 'foreign/lying.png')).rejects.toBeInstanceOf(UpstreamError);

      // Objects written by someone else without the metadata: head() computes the hash.
      await raw.send(new PutObjectCommand({ Bucket: QUARANTINE, Key: 'foreign/plain.png', Body: 'abc', ContentType: 'image/png' }));
      expect((await store.head('quarantine', 'foreign/plain.png'))?.sha256).toBe(sha256(new TextEncoder().encode('abc')));
    } finally {
      raw.destroy();
    }
  });

  it('refuses get() beyond the read cap', async () => {
    const capped = makeStore({ maxGetBytes: 10 });
    try {
      await capped.put('quarantine', 'cap/eleven.bin', new Uint8Array(11), { contentType: 'application/octet-stream' });
      await expect(capped.get('quarantine', 'cap/eleven.bin')).rejects.toBeInstanceOf(ValidationError);
    } finally {
      capped.close();
    }
  });

  it('maps NoSuchKey to NotFoundError', async () => {
    const err = await store.get('public', 'never/there.png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('never/there.png');
  });
});

describe('S3ObjectStore.check()', () => {
  it('names the bucket that is missing', async () => {
    const store = makeStore({ publicBucket: 'no-such-public-bucket' });
    try {
      const err = await store.check().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamRefusedError);
      expect((err as Error).message).toContain('"no-such-public-bucket"');
      expect((err as Error).message).toContain('public bucket');
    } finally {
      store.close();
    }
  });

  it('reports an unreachable endpoint as retryable, naming the bucket', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const store = makeStore({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    try {
      const err = await store.check().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as Error).message).toContain(`"${QUARANTINE}"`);
      await expect(store.put('quarantine', 'x.png', new Uint8Array(1), { contentType: 'image/png' })).rejects.toBeInstanceOf(UpstreamError);
    } finally {
      store.close();
    }
  });
});

describe('S3ObjectStore configuration', () => {
  const base = { region: 'eu-west-1', quarantineBucket: 'q-bucket', publicBucket: 'pub-bucket' };

  it('public URLs: path-style on a custom endpoint', () => {
    const store = new S3ObjectStore({ ...base, endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(store.publicUrl('ab/cd/x.png')).toBe('http://127.0.0.1:9000/pub-bucket/ab/cd/x.png');
    store.close();
    const prefixed = new S3ObjectStore({ ...base, endpoint: 'https://s3.example.org/storage/', forcePathStyle: true });
    expect(prefixed.publicUrl('x.png')).toBe('https://s3.example.org/storage/pub-bucket/x.png');
    prefixed.close();
  });

  it('public URLs: virtual-hosted, AWS defaults, and an explicit base', () => {
    const cases: Array<[Partial<S3ObjectStoreOptions>, string]> = [
      [{ endpoint: 'https://s3.example.org', forcePathStyle: false }, 'https://pub-bucket.s3.example.org/ab/x.png'],
      [{ forcePathStyle: false }, 'https://pub-bucket.s3.eu-west-1.amazonaws.com/ab/x.png'],
      [{ forcePathStyle: true }, 'https://s3.eu-west-1.amazonaws.com/pub-bucket/ab/x.png'],
      [{ forcePathStyle: true, publicBaseUrl: 'https://cdn.example.org/images/' }, 'https://cdn.example.org/images/ab/x.png'],
    ];
    for (const [opts, expected] of cases) {
      const store = new S3ObjectStore({ ...base, forcePathStyle: false, ...opts });
      expect(store.publicUrl('ab/x.png')).toBe(expected);
      expect(() => store.publicUrl('../q-bucket/x.png')).toThrow(ValidationError);
      store.close();
    }
  });

  it('refuses one bucket for both areas and parts below the S3 minimum', () => {
    expect(() => new S3ObjectStore({ ...base, publicBucket: 'q-bucket', forcePathStyle: true })).toThrow(ValidationError);
    expect(() => new S3ObjectStore({ ...base, forcePathStyle: true, partSizeBytes: 1024 * 1024 })).toThrow(ValidationError);
  });
});
