import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PanoptesHttpClient, type PanoptesHttpClientOptions } from '../../src/adapters/panoptes/panoptes-client.js';
import { FsObjectStore, servePublic } from '../../src/adapters/storage/fs-store.js';

import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import type { PanoptesClient, PanoptesUser } from '../../src/domain/ports/panoptes-client.js';
import type { Logger } from '../../src/domain/ports/logger.js';
import type { ObjectStore } from '../../src/domain/ports/object-store.js';
import { throwawayDatabase } from './throwaway-database.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, type Fault } from './panoptes-server.js';

/*
 * What the upload tests and the upload benchmark share: an upload batch as
 * the manifest step leaves it (rows in upload_batches / upload_items, the
 * JSON and CSV manifests in the public store), a public store served over
 * HTTP (Panoptes fetches import manifests itself), a proxy that adds latency
 * to every Panoptes request, and the fault mix.
 */

export const quietLog: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** A FsObjectStore whose public area is served over HTTP, as a public bucket would be. */
export interface PublicStore {
  store: FsObjectStore;
  root: string;
  url: string;
  close(): Promise<void>;
}

export async function startPublicStore(root?: string): Promise<PublicStore> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'upload-store-')));
  let handler: ReturnType<typeof servePublic> | undefined;
  const server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = new FsObjectStore({ root: dir, publicBaseUrl: url });
  handler = servePublic(store);
  return {
    store,
    root: dir,
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!root) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SeedOptions {
  n: number;
  mode?: 'api' | 'import';
  projectId?: string;
  seq?: number;
  /** Reuse a collection (another batch of it); else one is registered. */
  collectionId?: string;
  collectionName?: string;
  subjectSetPer?: 'batch' | 'collection';
  /** Row i gets this location instead of a PNG URL (to make Panoptes refuse it). */
  badLocation?: (i: number) => Record<string, string> | undefined;
}

export interface SeededBatch {
  collectionId: string;
  batchId: string;
  imageIds: string[];
  /** = image ids: the bridge's external_id is its image id. */
  externalIds: string[];
  jsonKey: string;
  csvKey: string;
}

/** Rows and manifests as the manifest step (planUploadBatches) leaves them: batch 'manifested', ledger 'intent'. */
export async function seedUploadBatch(db: Db, store: ObjectStore, o: SeedOptions): Promise<SeededBatch> {
  const mode = o.mode ?? 'api';
  const seq = o.seq ?? 1;
  let collectionId = o.collectionId;
  let name = o.collectionName ?? `upload-test-${Math.random().toString(36).slice(2, 8)}`;
  if (!collectionId) {
    const c = await createCollection(
      db,
      {
        owner: 'pi',
        repository: 'dp1',
        name,
        sourceKind: 'prefix',
        sourceRoot: '/nowhere',
        datasetType: 'zooniverse_cutout',
        rgb: ['i', 'r', 'g'],
        colour: { preset: 'auto' },
        zooniverseProjectId: o.projectId ?? '1',
        subjectSetNaming: null,
        pollIntervalSeconds: 3600,
      },
      'test',
    );
    collectionId = c.id;
    await db.updateTable('collections').set({ upload_mode: mode, subject_set_per: o.subjectSetPer ?? 'batch' }).where('id', '=', c.id).execute();
    // As in production, an admin approved the project for the owner (uploads check it at every run).
    await db.insertInto('project_bindings').values({ username: 'pi', project_id: o.projectId ?? '1', approved_by: 'test' }).onConflict((oc) => oc.doNothing()).execute();
  } else {
    name = (await db.selectFrom('collections').select('name').where('id', '=', collectionId).executeTakeFirstOrThrow()).name;
  }

  const images: { id: string; key: string; sha: string; stamp: number }[] = [];
  for (let i = 0; i < o.n; i += 500) {
    const rows = await db
      .insertInto('images')
      .values(
        Array.from({ length: Math.min(500, o.n - i) }, (_, k) => {
          const stamp = i + k;
          const sha = createHash('sha256').update(`${collectionId}/${seq}/${stamp}`).digest('hex');
          return {
            collection_id: collectionId!,
            group_key: `{"batch":${seq}}`,
            stamp_index: stamp,
            state: 'published' as const,
            ra: 150 + stamp / 1000,
            dec: 2 + stamp / 1000,
            wcs_quality: 'full' as const,
            width: 64,
            height: 64,
            bytes: 1000,
            sha256: sha,
            quarantine_key: `q/${sha}.png`,
            bands: JSON.stringify(['g', 'r', 'i']),
            colour: JSON.stringify({}),
            error: null,
            public_key: `images/${sha.slice(0, 2)}/${sha}.png`,
            public_sha256: sha,
            published_at: new Date(),
          };
        }),
      )
      .returning(['id', 'public_key', 'sha256', 'stamp_index'])
      .execute();
    images.push(...rows.map((r) => ({ id: r.id, key: r.public_key!, sha: r.sha256, stamp: r.stamp_index })));
  }

  const jsonKey = `manifests/${collectionId}/batch-${seq}.json`;
  const csvKey = `manifests/${collectionId}/batch-${seq}.csv`;
  const entries = images.map((img, i) => ({
    external_id: img.id,
    locations: [o.badLocation?.(i) ?? { 'image/png': store.publicUrl(img.key) }],
    metadata: { '#bridge_image_id': img.id, '#collection': collectionId, '#content_sha256': img.sha, '#stamp_index': img.stamp, '!ra': 150 + img.stamp / 1000, '!dec': 2 + img.stamp / 1000 },
  }));
  const header = ['external_id', 'location:1', 'metadata:#bridge_image_id', 'metadata:#collection', 'metadata:#content_sha256', 'metadata:#stamp_index', 'metadata:!ra', 'metadata:!dec'];
  const csv = [header.join(','), ...entries.map((e) => [e.external_id, Object.values(e.locations[0])[0], ...Object.values(e.metadata).map(String)].map(csvCell).join(','))].join('\r\n') + '\r\n';
  const cache = 'no-cache';
  await store.put('public', jsonKey, new TextEncoder().encode(JSON.stringify(entries)), { contentType: 'application/json', cacheControl: cache });
  await store.put('public', csvKey, new TextEncoder().encode(csv), { contentType: 'text/csv', cacheControl: cache });

  const batch = await db
    .insertInto('upload_batches')
    .values({ collection_id: collectionId, seq, mode, state: 'manifested', manifest_csv_key: csvKey, manifest_json_key: jsonKey, total: o.n, subject_set_id: null, import_id: null, error: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  for (let i = 0; i < images.length; i += 1000) {
    await db
      .insertInto('upload_items')
      .values(images.slice(i, i + 1000).map((img) => ({ upload_batch_id: batch.id, image_id: img.id, external_id: img.id, state: 'intent' as const, subject_id: null, error: null })))
      .execute();
  }
  return { collectionId, batchId: batch.id, imageIds: images.map((i) => i.id), externalIds: images.map((i) => i.id), jsonKey, csvKey };
}

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The real client, with test-sized backoff (Retry-After is still honoured as sent). */
export function panoptesClient(baseUrl: string, extra: Partial<PanoptesHttpClientOptions> = {}): PanoptesHttpClient {
  return new PanoptesHttpClient({ baseUrl, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET, baseDelayMs: 5, maxDelayMs: 50, requestTimeoutMs: 10_000, ...extra });
}

/** A client whose /me is stale, as Panoptes' cached uploaded_subjects_count is (up to an hour). */
export function withStaleMe(client: PanoptesClient, patch: Partial<PanoptesUser>): PanoptesClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'me') return async () => ({ ...(await target.me()), ...patch });
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * The fault mix of the upload tests, `rate` of create requests in all
 * (default 10%): most of it commits before failing (504 or a connection
 * dropped after the commit: the cause of duplicates in real projects), the
 * rest fails before anything runs (connection reset, 429 with Retry-After: 1,
 * the token dying mid-run). Reads and links get some trouble too; the
 * client retries those.
 */
export function faultMix(rate = 0.1, seed = 42, shares: Partial<Record<'commit504' | 'commitReset' | 'reset' | 'throttle' | 'expire', number>> = {}): Fault[] {
  const s = { commit504: 0.4, commitReset: 0.2, reset: 0.15, throttle: 0.15, expire: 0.1, ...shares };
  return [
    { route: 'createSubject', kind: 'commit-then-504', rate: rate * s.commit504, seed },
    { route: 'createSubject', kind: 'commit-then-reset', rate: rate * s.commitReset, seed: seed + 1 },
    { route: 'createSubject', kind: 'reset', rate: rate * s.reset, seed: seed + 2 },
    { route: 'createSubject', kind: 'status', status: 429, retryAfter: 1, rate: rate * s.throttle, seed: seed + 3 },
    { route: 'createSubject', kind: 'expire-token', rate: rate * s.expire, seed: seed + 4 },
    { route: 'listSubjects', kind: 'status', status: 502, rate: 0.03, seed: seed + 5 },
    { route: 'linkSubjects', kind: 'status', status: 504, rate: 0.05, seed: seed + 6 },
  ].filter((f) => f.rate > 0) as Fault[];
}

/** Create requests that met trouble: an injected fault, or a 401 because the token died under them. */
export function troubledCreates(requests: readonly { route: string; fault?: string; status?: number }[]): number {
  return requests.filter((r) => r.route === 'createSubject' && (r.fault !== undefined || r.status === 401)).length;
}

/**
 * An HTTP proxy in front of the Panoptes double adding `delayMs` to every
 * request (half before it is forwarded, half before the answer), the
 * latency of a real API across the internet. Connections the double drops
 * are dropped here too, so its faults look the same through it. (The double
 * could do this itself with a `requestDelayMs` option; this keeps it as is.)
 */
export interface DelayingProxy {
  url: string;
  close(): Promise<void>;
}

export async function startDelayingProxy(target: string, delayMs: number): Promise<DelayingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const half = delayMs / 2;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (half) await sleep(half);
      const fwd = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
        async (up: IncomingMessage) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('error', () => req.socket.destroy());
          up.on('aborted', () => req.socket.destroy());
          up.on('end', async () => {
            if (!up.complete) return req.socket.destroy();
            if (half) await sleep(half);
            if (res.destroyed) return;
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      fwd.on('error', async () => {
        // The double dropped the connection: the client sees the same, in time.
        if (half) await sleep(half);
        req.socket.destroy();
      });
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A database another process can open too (the crash tests' uploader runs
 * in a child): a PGlite directory, or a scratch database on the Postgres of
 * TEST_DATABASE_URL. `target` is what the child gets as UPLOAD_DATABASE.
 */
export interface ScratchDatabase {
  target: string;
  /** Opens (and on first use migrates) it. Close it before a child opens a PGlite directory. */
  open(): Promise<Db>;
  cleanup(): Promise<void>;
}

export async function scratchDatabase(kind: 'pglite' | 'postgres'): Promise<ScratchDatabase> {
  let migrated = false;
  const opened = async (db: Db) => {
    if (!migrated) await migrateToLatest(db);
    migrated = true;
    return db;
  };
  if (kind === 'pglite') {
    const dir = await mkdtemp(join(tmpdir(), 'upload-pglite-'));
    return { target: dir, open: async () => opened(await openDatabase({ dataDir: dir })), cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
  const scratch = await throwawayDatabase(process.env.TEST_DATABASE_URL!, 'bridge_upload');
  return {
    target: scratch.url,
    open: async () => opened(await openDatabase({ url: scratch.url })),
    cleanup: () => scratch.drop(),
  };
}
