import { mkdtemp, rm } from 'node:fs/promises';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/app/logger.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startApiRole } from '../../src/app/api-server.js';
import { startWorkerRole } from '../../workers/main.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { writeDemoArtifacts, type DemoLayout } from '../../src/demo/demo-data.js';
import { CookieJar, startOidcProvider, type StartedOidcProvider } from './oidc-provider.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from './panoptes-server.js';

/**
 * The whole bridge as the end-to-end tests meet it: a real OIDC provider,
 * the API and a worker on real Redis and PGlite (or Postgres), and
 * collections that went through the real pipeline and policy. Nothing in
 * the identity or review path is replaced.
 */
export interface BridgeApp {
  url: string;
  /** The API's HTTP server (its routes can be listed with support/routes.ts). */
  server: import('node:http').Server;
  op: StartedOidcProvider;
  s: Services;
  /** Every log line the bridge wrote, for checks that secrets never appear. */
  logs: string[];
  /** Collection ids by owner. */
  collections: Record<string, string>;
  /** A bearer token for the bridge API, as a PI's notebook would hold. */
  bearer(username: string): Promise<string>;
  /** Calls /api/v1`path` as `username` with a bearer token; JSON in and out. */
  call(username: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Signs in through the provider like a browser; returns the cookie header and CSRF token. */
  session(username: string): Promise<{ cookie: string; csrf: string }>;
  close(): Promise<void>;
}

export interface BridgeAppOptions {
  /** Owners whose collection of `stamps` images is run through the pipeline. */
  owners?: string[];
  stamps?: number;
  loginRateLimit?: number;
  writeRateLimit?: number;
  databaseUrl?: string;
  /** Point the bridge at a Panoptes double with these credentials. */
  zooniverse?: { baseUrl: string; clientId: string; clientSecret: string };
  /** Upload settings each owner sets through PATCH /collections/{id} before the first poll. */
  settings?: Record<string, unknown>;
  /** A data-rights policy file other than the shipped one. */
  policyFile?: string;
  /** More configuration, over the defaults here. */
  env?: Record<string, string>;
  /** How often the sweep runs (default 5 s); long, to show something happens without it. */
  sweepSeconds?: number;
  /** WEBHOOK_ALLOWED_HOSTS, for tests whose webhook receiver listens on loopback. */
  webhookAllowedHosts?: string;
}

export async function startBridgeApp(o: BridgeAppOptions = {}): Promise<BridgeApp> {
  const owners = o.owners ?? ['alien', 'rev'];
  const stamps = o.stamps ?? 4;
  const op = await startOidcProvider();
  const redis: LocalRedis = await startLocalRedis();
  const dir = await mkdtemp(join(tmpdir(), 'bridge-app-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const env: Record<string, string> = {
    // An http:// test OIDC provider: dev mode (production wants https), yet with a provider, so no dev headers.
    BRIDGE_MODE: 'dev',
    DATA_DIR: join(dir, 'data'),
    ARTIFACT_ROOT: join(dir, 'artifacts'),
    REDIS_URL: redis.url,
    LOG_LEVEL: 'info',
    OIDC_ISSUER: op.issuer,
    OIDC_CLIENT_ID: op.clients.web.clientId,
    OIDC_CLIENT_SECRET: op.clients.web.clientSecret,
    OIDC_SCOPES: op.scopes,
    OIDC_GROUPS_CLAIM: 'groups',
    OIDC_AUDIENCES: op.apiAudience,
    OIDC_ALLOW_HTTP: 'true',
    SESSION_SECRET: 'test-session-secret-0123456789abcdef-not-for-production',
    SWEEP_INTERVAL_SECONDS: String(o.sweepSeconds ?? 5),
    // Approvals publish at once unless a test sets a delay (test/e2e/publish-delay tests the delay itself).
    PUBLISH_DELAY_SECONDS: '0',
  };
  if (o.policyFile) env.POLICY_FILE = o.policyFile;
  if (o.webhookAllowedHosts) env.WEBHOOK_ALLOWED_HOSTS = o.webhookAllowedHosts;
  if (o.env) Object.assign(env, o.env);
  if (o.databaseUrl) env.DATABASE_URL = o.databaseUrl;
  if (o.zooniverse) Object.assign(env, { ZOONIVERSE_BASE_URL: o.zooniverse.baseUrl, ZOONIVERSE_CLIENT_ID: o.zooniverse.clientId, ZOONIVERSE_CLIENT_SECRET: o.zooniverse.clientSecret, PUBLIC_BASE_URL: '' });
  // The bridge's own logger (with its redaction), writing where the test can read it.
  const s = await buildServices(loadConfig(env), { log: createLogger('info', sink), migrate: true });
  const api = await startApiRole(s, 0, { loginRateLimit: o.loginRateLimit, writeRateLimit: o.writeRateLimit });
  const worker = await startWorkerRole(s);

  const collections: Record<string, string> = {};
  for (const owner of owners) {
    const layout: DemoLayout = { owner, run: `u/${owner}/zoo-review`, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: stamps, size: 48 };
    await writeDemoArtifacts(env.ARTIFACT_ROOT, layout);
    const c = await createCollection(
      s.db,
      { owner, repository: 'dp02', name: layout.run, sourceKind: 'prefix', sourceRoot: env.ARTIFACT_ROOT, datasetType: layout.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2'),
        // As registration records them from the owner's token: the provider's data rights, so the owner's first request changes nothing.
        ownerDataRights: (op.accounts[owner]?.dataRights ?? '').split(' ').filter(Boolean) },
      owner,
    );
    collections[owner] = c.id;
    if (o.settings) {
      // A Zooniverse project needs an admin's approval for the owner first, as in production.
      if (typeof o.settings.zooniverseProjectId === 'string') {
        const ok = await fetch(`${api.url}/api/v1/project-bindings`, { method: 'POST', headers: { authorization: `Bearer ${await op.tokenFor('boss', { audience: op.apiAudience })}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: owner, projectId: o.settings.zooniverseProjectId, reason: 'test fixture' }) });
        if (ok.status !== 201) throw new Error(`approving project ${o.settings.zooniverseProjectId} for ${owner}: ${ok.status} ${await ok.text()}`);
      }
      const res = await fetch(`${api.url}/api/v1/collections/${c.id}`, { method: 'PATCH', headers: { authorization: `Bearer ${await op.tokenFor(owner, { audience: op.apiAudience })}`, 'content-type': 'application/json' }, body: JSON.stringify(o.settings) });
      if (res.status !== 200) throw new Error(`settings for ${owner}: ${res.status} ${await res.text()}`);
    }
    await s.queues.add('poll', { collectionId: c.id });
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const judged = await s.db.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n')).where('verdict', 'is not', null).executeTakeFirstOrThrow();
    if (Number(judged.n) >= owners.length * stamps) break;
    if (Date.now() > deadline) throw new Error(`the pipeline did not judge ${owners.length * stamps} images in time (have ${judged.n})`);
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url: api.url,
    server: api.server,
    op,
    s,
    logs,
    collections,
    bearer: (username) => op.tokenFor(username, { audience: op.apiAudience }),
    async call(username, method, path, body) {
      const r = await fetch(`${api.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${await op.tokenFor(username, { audience: op.apiAudience })}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async session(username) {
      const jar = new CookieJar();
      const start = new URL('/auth/login?returnTo=/review', api.url);
      const r1 = await fetch(start, { redirect: 'manual' });
      jar.store(start, r1);
      const callback = await op.authorize(r1.headers.get('location')!, username);
      const r2 = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
      if (r2.status !== 303) throw new Error(`callback answered ${r2.status}: ${await r2.text()}`);
      jar.store(callback, r2);
      const cookie = jar.header(new URL('/api/v1/me', api.url));
      const me = (await (await fetch(new URL('/api/v1/me', api.url), { headers: { cookie } })).json()) as { csrfToken: string };
      return { cookie, csrf: me.csrfToken };
    },
    async close() {
      await worker.close();
      await api.close();
      await s.close();
      await redis.stop();
      await op.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The bridge on a Panoptes double of its own: its owners' collections bound
 * to Zooniverse project 1 (an admin's approval, as in production) with these
 * upload `settings`. close() stops both.
 */
export async function startBridgeAppOnZooniverse(o: BridgeAppOptions & { settings: Record<string, unknown> }): Promise<BridgeApp & { zoo: PanoptesServerDouble }> {
  const zoo = await PanoptesServerDouble.start();
  try {
    const app = await startBridgeApp({ ...o, zooniverse: { baseUrl: zoo.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET }, settings: { zooniverseProjectId: '1', ...o.settings } });
    const closeApp = app.close;
    return Object.assign(app, {
      zoo,
      async close() {
        await closeApp();
        await zoo.close();
      },
    });
  } catch (e) {
    await zoo.close();
    throw e;
  }
}
