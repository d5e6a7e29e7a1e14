import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import { FsObjectStore } from '../adapters/storage/fs-store.js';
import { S3ObjectStore } from '../adapters/storage/s3-store.js';
import { PanoptesHttpClient } from '../adapters/panoptes/panoptes-client.js';
import type { PanoptesClient } from '../domain/ports/panoptes-client.js';
import type { UpstreamRetryNotice } from '../adapters/http/retry.js';
import { SOFTWARE } from '../imaging/version.js';

/** The object store the configuration describes; shared by the service and the CLI commands. */
export async function buildStore(config: Config): Promise<{ store: ObjectStore; close(): void }> {
  if (config.STORAGE === 's3') {
    const store = new S3ObjectStore({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials: config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } : undefined,
      quarantineBucket: config.S3_QUARANTINE_BUCKET!,
      publicBucket: config.S3_PUBLIC_BUCKET!,
      publicBaseUrl: config.S3_PUBLIC_BASE_URL,
      requestTimeoutMs: config.S3_REQUEST_TIMEOUT_SECONDS * 1000,
    });
    return { store, close: () => store.close() };
  }
  const root = resolve(config.STORAGE_DIR ?? join(config.DATA_DIR, 'objects'));
  await mkdir(root, { recursive: true });
  return { store: new FsObjectStore({ root, publicBaseUrl: config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}` }), close: () => {} };
}

/** The Zooniverse client, when the EPO application's credentials are configured. */
export function buildPanoptes(config: Config, onRetry?: (n: UpstreamRetryNotice) => void): PanoptesClient | undefined {
  if (!config.ZOONIVERSE_CLIENT_ID || !config.ZOONIVERSE_CLIENT_SECRET) return undefined;
  return new PanoptesHttpClient({ baseUrl: config.ZOONIVERSE_BASE_URL, clientId: config.ZOONIVERSE_CLIENT_ID, clientSecret: config.ZOONIVERSE_CLIENT_SECRET, userAgent: SOFTWARE, onRetry });
}
