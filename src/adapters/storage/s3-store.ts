import { createHash } from 'node:crypto';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';

import { AppError, NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from '../../domain/errors.js';
import type { GetOptions, ObjectStore, PutOptions, StoreArea, StoredObject } from '../../domain/ports/object-store.js';
import {
  DEFAULT_MAX_GET_BYTES,
  DEFAULT_PUBLIC_CACHE_CONTROL,
  assertPutOptions,
  assertValidKey,
  encodeKeyForUrl,
} from './keys.js';

/*
 * Longer than 400 lines because multipart uploads, checksums and the one
 * mapping of SDK failures belong to every operation of the store.
 *
 * Deployment requirements (not enforced here, on purpose):
 * - The quarantine bucket MUST be private: no public-read bucket policy, Block
 *   Public Access on. Unreviewed images live there.
 * - The public bucket is made anonymously readable by its bucket policy (and
 *   CORS for Zooniverse's origins). This adapter never sends an ACL, so object
 *   visibility is decided by bucket policy alone and works with buckets that
 *   have ACLs disabled (Object Ownership = BucketOwnerEnforced).
 * - The credentials need s3:PutObject/GetObject/DeleteObject on both buckets,
 *   s3:AbortMultipartUpload, and s3:ListBucket (so a missing key is a 404
 *   rather than a 403).
 */

const MiB = 1024 * 1024;
/** S3's floor for every part but the last. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
const PART_CONCURRENCY = 4;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface S3ObjectStoreOptions {
  /** Custom endpoint (Ceph, MinIO, GCS interop...); omitted for AWS. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Omitted: the SDK's default provider chain (env, web identity, instance role...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  quarantineBucket: string;
  publicBucket: string;
  /** Base of anonymous URLs; default: the endpoint-style URL of the public bucket. */
  publicBaseUrl?: string;
  /** Bodies larger than this go up as multipart. Default 8 MiB. */
  multipartThresholdBytes?: number;
  /** At least 5 MiB (S3's minimum). Default 8 MiB. */
  partSizeBytes?: number;
  /** SDK attempts per request, including the first. Default 3. */
  maxAttempts?: number;
  /** get() buffers the object; larger objects are refused with ValidationError. Default 64 MiB. */
  maxGetBytes?: number;
  /** How long one request may go without an answer before it is abandoned and retried; default 120 s. */
  requestTimeoutMs?: number;
}

export class S3ObjectStore implements ObjectStore {
  readonly quarantineBucket: string;
  readonly publicBucket: string;
  readonly publicBaseUrl: string;
  readonly multipartThresholdBytes: number;
  readonly partSizeBytes: number;
  readonly maxGetBytes: number;
  private readonly client: S3Client;

  constructor(opts: S3ObjectStoreOptions) {
    if (!opts.quarantineBucket || !opts.publicBucket) {
      throw new ValidationError('S3ObjectStore needs both a quarantine and a public bucket', { field: 'bucket' });
    }
    if (opts.quarantineBucket === opts.publicBucket) {
      // One bucket cannot be both private and anonymously readable.
      throw new ValidationError('the quarantine and public buckets must be different buckets', { field: 'bucket' });
    }
    this.quarantineBucket = opts.quarantineBucket;
    this.publicBucket = opts.publicBucket;
    this.multipartThresholdBytes = opts.multipartThresholdBytes ?? 8 * MiB;
    this.partSizeBytes = opts.partSizeBytes ?? 8 * MiB;
    this.maxGetBytes = opts.maxGetBytes ?? DEFAULT_MAX_GET_BYTES;
    if (!Number.isInteger(this.partSizeBytes) || this.partSizeBytes < MIN_PART_SIZE) {
      throw new ValidationError(`partSizeBytes must be an integer of at least ${MIN_PART_SIZE} (S3 minimum)`, { field: 'partSizeBytes' });
    }
    if (!Number.isInteger(this.multipartThresholdBytes) || this.multipartThresholdBytes < 0) {
      throw new ValidationError('multipartThresholdBytes must be a non-negative integer', { field: 'multipartThresholdBytes' });
    }
    this.publicBaseUrl = (
      opts.publicBaseUrl ?? defaultPublicBaseUrl(opts.endpoint, opts.region, opts.forcePathStyle, opts.publicBucket)
    ).replace(/\/+$/, '');
    this.client = new S3Client({
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
      ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      // Without timeouts a half-open connection would hang a worker forever instead of failing retryably.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: opts.requestTimeoutMs ?? 120_000 },
    });
  }

  async put(area: StoreArea, key: string, body: Uint8Array, opts: PutOptions): Promise<StoredObject> {
    assertValidKey(key);
    assertPutOptions(opts);
    const bucket = this.bucket(area);
    // The caller's hash when it has one (see PutOptions.sha256): S3 still verifies it against the bytes it receives.
    const digest = opts.sha256 !== undefined ? Buffer.from(opts.sha256, 'hex') : createHash('sha256').update(body).digest();
    const sha256 = digest.toString('hex');
    const headers = this.objectHeaders(area, opts, sha256);
    if (body.byteLength > this.multipartThresholdBytes) {
      await this.putMultipart(bucket, key, body, headers);
    } else {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ...headers,
            // Our own hash of the bytes we hold: the backend refuses the upload (BadDigest) if what arrives differs.
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: digest.toString('base64'),
          }),
        );
      } catch (err) {
        throw mapS3Error(err, 'PutObject', bucket, key);
      }
    }
    return { key, size: body.byteLength, contentType: opts.contentType, sha256 };
  }

  async get(area: StoreArea, key: string, opts: GetOptions = {}): Promise<{ body: Uint8Array; contentType: string }> {
    assertValidKey(key);
    const bucket = this.bucket(area);
    let body: Uint8Array;
    let contentType: string;
    let recorded: string | undefined;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (res.ContentLength !== undefined && res.ContentLength > this.maxGetBytes) {
        destroyBody(res.Body);
        throw new ValidationError(`object ${area}/${key} is ${res.ContentLength} bytes, over the ${this.maxGetBytes}-byte read limit`, { area, key });
      }
      if (!res.Body) throw new UpstreamError(`S3 GetObject ${bucket}/${key} returned no body`);
      body =
        opts.alloc && res.ContentLength !== undefined
          ? await readBodyInto(res.Body as AsyncIterable<Uint8Array>, opts.alloc(res.ContentLength), `S3 GetObject ${bucket}/${key}`)
          : await res.Body.transformToByteArray();
      contentType = res.ContentType ?? 'application/octet-stream';
      recorded = res.Metadata?.sha256;
    } catch (err) {
      throw mapS3Error(err, 'GetObject', bucket, key, true);
    }
    if (recorded !== undefined && SHA256_HEX.test(recorded)) {
      const actual = createHash('sha256').update(body).digest('hex');
      if (actual !== recorded) {
        throw new UpstreamError(`S3 GetObject ${bucket}/${key}: body does not match its recorded sha256`, undefined, { area, key });
      }
    }
    return { body, contentType };
  }

  async head(area: StoreArea, key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    const found = await this.headRaw(area, key);
    if (!found) return undefined;
    return { key, size: found.size, contentType: found.contentType, sha256: found.sha256 };
  }

  async delete(area: StoreArea, key: string): Promise<void> {
    assertValidKey(key);
    const bucket = this.bucket(area);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      const mapped = mapS3Error(err, 'DeleteObject', bucket, key, true);
      if (mapped instanceof NotFoundError) return;
      throw mapped;
    }
  }

  async copy(
    from: { area: StoreArea; key: string },
    to: { area: StoreArea; key: string },
    opts: PutOptions,
  ): Promise<StoredObject> {
    assertValidKey(from.key);
    assertValidKey(to.key);
    assertPutOptions(opts);
    const source = await this.headRaw(from.area, from.key);
    if (!source) throw new NotFoundError(`object ${from.area}/${from.key} not found`, { area: from.area, key: from.key });
    const sourceBucket = this.bucket(from.area);
    const bucket = this.bucket(to.area);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: to.key,
          CopySource: `${sourceBucket}/${encodeKeyForUrl(from.key)}`,
          // The sha256 we carry over was read from this exact version; a concurrent overwrite fails the copy instead.
          ...(source.etag !== undefined ? { CopySourceIfMatch: source.etag } : {}),
          MetadataDirective: 'REPLACE',
          ...this.objectHeaders(to.area, opts, source.sha256),
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (err) {
      throw mapS3Error(err, 'CopyObject', bucket, to.key, true);
    }
    return { key: to.key, size: source.size, contentType: opts.contentType, sha256: source.sha256 };
  }

  publicUrl(key: string): string {
    assertValidKey(key);
    return `${this.publicBaseUrl}/${encodeKeyForUrl(key)}`;
  }

  async check(): Promise<void> {
    for (const area of ['quarantine', 'public'] as const) {
      const bucket = this.bucket(area);
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const mapped = mapS3Error(err, 'HeadBucket', bucket);
        const message = `S3 ${area} bucket "${bucket}" is not usable: ${describe(err)}`;
        throw mapped instanceof UpstreamError
          ? new UpstreamError(message, mapped.retryAfterMs, { bucket, area })
          : new UpstreamRefusedError(message, { bucket, area });
      }
    }
  }

  /** Releases the SDK's sockets (tests, shutdown). */
  close(): void {
    this.client.destroy();
  }

  // --- internals -----------------------------------------------------------

  private bucket(area: StoreArea): string {
    if (area === 'quarantine') return this.quarantineBucket;
    if (area === 'public') return this.publicBucket;
    throw new ValidationError(`unknown store area ${JSON.stringify(area)}`, { field: 'area' });
  }

  private objectHeaders(area: StoreArea, opts: PutOptions, sha256: string) {
    // Same default as servePublic, so the two stores look the same to Zooniverse.
    const cacheControl = opts.cacheControl ?? (area === 'public' ? DEFAULT_PUBLIC_CACHE_CONTROL : undefined);
    return {
      ContentType: opts.contentType,
      ...(cacheControl !== undefined ? { CacheControl: cacheControl } : {}),
      Metadata: { sha256 },
    };
  }

  private async headRaw(
    area: StoreArea,
    key: string,
  ): Promise<{ size: number; contentType: string; sha256: string; etag: string | undefined } | undefined> {
    const bucket = this.bucket(area);
    let res;
    try {
      res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      const mapped = mapS3Error(err, 'HeadObject', bucket, key, true);
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
    const recorded = res.Metadata?.sha256;
    // Objects not written by this adapter have no recorded hash; computing it costs a read but keeps head() honest.
    const sha256 = recorded !== undefined && SHA256_HEX.test(recorded) ? recorded : await this.hashObject(bucket, key);
    return {
      size: res.ContentLength ?? 0,
      contentType: res.ContentType ?? 'application/octet-stream',
      sha256,
      etag: res.ETag,
    };
  }

  private async hashObject(bucket: string, key: string): Promise<string> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const hash = createHash('sha256');
      for await (const chunk of res.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
      return hash.digest('hex');
    } catch (err) {
      throw mapS3Error(err, 'GetObject', bucket, key, true);
    }
  }

  private async putMultipart(
    bucket: string,
    key: string,
    body: Uint8Array,
    headers: ReturnType<S3ObjectStore['objectHeaders']>,
  ): Promise<void> {
    const partSize = Math.max(this.partSizeBytes, Math.ceil(body.byteLength / MAX_PARTS));
    const partCount = Math.ceil(body.byteLength / partSize);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...headers, ChecksumAlgorithm: 'SHA256' }),
      );
      uploadId = created.UploadId;
      if (!uploadId) throw new UpstreamError(`S3 CreateMultipartUpload ${bucket}/${key} returned no UploadId`);
      const id = uploadId;
      const parts: CompletedPart[] = new Array(partCount);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < partCount) {
          const index = next++;
          const chunk = body.subarray(index * partSize, Math.min(body.byteLength, (index + 1) * partSize));
          const checksum = createHash('sha256').update(chunk).digest('base64');
          const res = await this.client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: id,
              PartNumber: index + 1,
              Body: chunk,
              ChecksumAlgorithm: 'SHA256',
              ChecksumSHA256: checksum,
            }),
          );
          parts[index] = { PartNumber: index + 1, ETag: res.ETag, ChecksumSHA256: res.ChecksumSHA256 ?? checksum };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, partCount) }, worker));
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      if (uploadId !== undefined) {
        // Best effort: a lifecycle rule (AbortIncompleteMultipartUpload) should back this up.
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw mapS3Error(err, 'multipart upload', bucket, key);
    }
  }
}

function defaultPublicBaseUrl(endpoint: string | undefined, region: string, forcePathStyle: boolean, bucket: string): string {
  if (endpoint === undefined) {
    return forcePathStyle ? `https://s3.${region}.amazonaws.com/${bucket}` : `https://${bucket}.s3.${region}.amazonaws.com`;
  }
  const url = new URL(endpoint);
  const path = url.pathname.replace(/\/+$/, '');
  return forcePathStyle ? `${url.protocol}//${url.host}${path}/${bucket}` : `${url.protocol}//${bucket}.${url.host}${path}`;
}

/**
 * A response body streamed into `into`, which must come out exactly full: a
 * body longer or shorter than its Content-Length is an error. Leaving the
 * loop by the throw ends the stream's iterator, which destroys the stream.
 */
async function readBodyInto(body: AsyncIterable<Uint8Array>, into: Uint8Array, what: string): Promise<Uint8Array> {
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.byteLength > into.byteLength) throw new UpstreamError(`${what}: body is longer than its Content-Length ${into.byteLength}`);
    into.set(chunk, at);
    at += chunk.byteLength;
  }
  if (at !== into.byteLength) throw new UpstreamError(`${what}: body ended after ${at} of its ${into.byteLength} bytes`);
  return into;
}

function destroyBody(body: unknown): void {
  if (body && typeof (body as { destroy?: unknown }).destroy === 'function') (body as { destroy(): void }).destroy();
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'ServiceUnavailable',
  // The bytes changed in transit; sending them again is the fix.
  'BadDigest',
  'XAmzContentSHA256Mismatch',
  // Conditional copy lost a race with an overwrite; a later attempt re-reads the source.
  'PreconditionFailed',
  'OperationAborted',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

const THROTTLING_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestThrottled', 'RequestLimitExceeded']);

function describe(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.Code ?? e.name ?? 'Error';
  const code = e.code && e.code !== name ? ` ${e.code}` : '';
  const status = e.$metadata?.httpStatusCode;
  return `${name}${code}${status !== undefined ? ` (HTTP ${status})` : ''}`;
}

/**
 * One place that turns SDK failures into the domain's errors: NotFoundError
 * (only when asked: a 404 from HeadBucket is a missing bucket, not a missing
 * object), UpstreamError for what may pass, UpstreamRefusedError for the rest.
 */
function mapS3Error(err: unknown, op: string, bucket: string, key?: string, notFoundIsObject = false): Error {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const where = key !== undefined ? `${bucket}/${key}` : bucket;
  const detail = { bucket, ...(key !== undefined ? { key } : {}), s3Error: name, ...(status !== undefined ? { status } : {}) };
  if (notFoundIsObject && name !== 'NoSuchBucket' && (name === 'NoSuchKey' || name === 'NotFound' || status === 404)) {
    return new NotFoundError(`object ${where} not found`, detail);
  }
  const retryable =
    RETRYABLE_NAMES.has(name) ||
    (e.code !== undefined && NETWORK_CODES.has(e.code)) ||
    Boolean(e.$retryable) ||
    // No HTTP status means the backend never gave a verdict (network, timeout, DNS): worth another try.
    status === undefined ||
    status >= 500 ||
    status === 429 ||
    status === 408;
  const message = `S3 ${op} ${where} failed: ${describe(err)}`;
  if (retryable) {
    return new UpstreamError(message, THROTTLING_NAMES.has(name) || status === 429 ? 2_000 : undefined, detail);
  }
  return new UpstreamRefusedError(message, detail);
}
