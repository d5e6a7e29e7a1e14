import { systemClock } from '../domain/ports/clock.js';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { DEFAULT_RELEASES, type ReleaseCatalogue } from '../domain/releases.js';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { randomUUID } from 'node:crypto';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { Repositories } from '../domain/ports/repositories.js';
import type { Lock } from '../domain/ports/lock.js';
import type { Logger } from '../domain/ports/logger.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import { problem, problemHandler } from './problem.js';
import { requireCsrf, requireRole, type Authenticator } from './auth.js';
import { authRoutes, type AuthRoutesDeps } from './auth-routes.js';
import { DEFAULT_MEDIA_URL_TTL_SECONDS, mediaRoutes, mediaSigner } from './media.js';
import { reviewRoutes } from './review-routes.js';
import { renderRoutes } from './render-routes.js';
import { adminRoutes } from './admin-routes.js';
import { projectBindingRoutes } from './project-binding-routes.js';
import { adminOverviewRoutes } from './admin-overview-routes.js';
import { retryRoutes } from './retry-routes.js';
import { takedownRoutes } from './takedown-routes.js';
import type { PanoptesClient } from '../domain/ports/panoptes-client.js';
import { releaseProgress } from '../domain/release.js';
import { uiPage, uiAssets, UI_DIR } from './review-page.js';
import { UiBundles } from './ui-bundles.js';
import { collectionRoutes } from './collections-routes.js';
import { previewRoutes } from './preview-routes.js';
import { piRoutes } from './pi-routes.js';
import { resultsRulesRoutes } from './results-rules-routes.js';
import type { ZooniverseEffects } from '../domain/ports/zooniverse-effects.js';
import { resultsRoutes } from './results-routes.js';
import { resultsStatusRoutes } from './results-status-routes.js';
import { caesarIntakeRoutes, caesarSecretRoutes } from './caesar-routes.js';
import type { ClassificationSource } from '../domain/ports/classification-source.js';
import type { ButlerSource } from '../domain/ports/butler-source.js';
import type { WebhookSender } from '../domain/ports/webhook-sender.js';
import type { Collection } from '../domain/model.js';
import { openApiDocument } from './openapi.js';
import { apiDocsPage } from './api-docs.js';

export interface ApiDeps {
  repos: Repositories;
  /** The upload lock, which a takedown of an upload batch takes too. */
  lock: Lock;
  queues: JobQueue;
  /** The queue dashboard (bull-board), served to admins at /admin/queues; built by the composition root, which has the raw queues. */
  queueDashboard: RequestHandler;
  store: ObjectStore;
  log: Logger;
  authenticator: Authenticator;
  /** Serves /public/... from the filesystem store (absent with S3: the bucket serves itself). */
  publicHandler?: RequestHandler;
  defaultPollIntervalSeconds: number;
  /** PUBLISH_DELAY_SECONDS: how long a reviewer's approval waits before it is published (Undo works until then). */
  publishDelaySeconds: number;
  artifactRoot: string;
  /** Repository label -> data release; default: the built-in mapping. */
  releases?: ReleaseCatalogue;
  /** RELEASES_FILE, when the operator's mapping came from a file (the admin page says where the mapping came from). */
  releasesFile?: string;
  checkRedis: () => Promise<void>;
  /** Failed upstream attempts so far (all processes of the deployment), for /metrics. */
  upstreamRetries?: () => Promise<{ upstream: string; errorClass: string; outcome: string; n: number }[]>;
  /** Sign-in routes; the provider, if any, also verifies bearer tokens in `authenticator`. */
  auth: Omit<AuthRoutesDeps, 'sessions' | 'log'>;
  /** Signs short-lived quarantine media URLs. */
  mediaSecret: Buffer;
  /** MEDIA_URL_TTL_SECONDS: how long a signed media URL works (default 600). */
  mediaUrlTtlSeconds?: number;
  /** Writes (POST/PUT/PATCH/DELETE) per caller per minute. */
  writeRateLimit: number;
  /** For takedowns of uploaded subjects; absent without Zooniverse credentials. */
  panoptes?: PanoptesClient;
  /** The results rules' effects on Zooniverse (undo: remove from a set); absent without Zooniverse credentials. */
  zooniverseEffects?: ZooniverseEffects;
  /** Where classifications come back from (export backfill requests); absent without Zooniverse credentials. */
  classificationSource?: ClassificationSource;
  /** WEBHOOK_ALLOWED_HOSTS: webhook hosts exempt from the private-address check at registration. */
  webhookAllowedHosts?: readonly string[];
  /** The source a collection of a kind reads from (the pipeline's): previews of a registration read through it. */
  sources?: (c: Pick<Collection, 'source_kind' | 'source_root'>) => ButlerSource;
  /** The webhook sender real events go through: the PI's "send a test event" uses it too. */
  webhooks?: WebhookSender;
  /** BRIDGE_MODE=dev: every response says so (`X-Bridge-Mode: dev`), and so does the review page. */
  devMode?: boolean;
}

/** Where the queue dashboard is mounted (it must know its own base path). */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** The HTTP API. Every /api route passes the authentication slot, then declares its role. */
export function createApi(d: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const strict = helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], scriptSrc: ["'self'"], styleSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"], frameAncestors: ["'none'"], formAction: ["'self'", ...(d.auth.provider ? ['*'] : [])] },
      },
      // The public media must load in Zooniverse's pages.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      strictTransportSecurity: d.auth.secureCookies,
    });
  // bull-board's UI needs inline scripts; it is admin-only, so it alone gets no CSP.
  const relaxed = helmet({ contentSecurityPolicy: false, strictTransportSecurity: d.auth.secureCookies });
  app.use((req, res, next) => (req.path.startsWith(QUEUE_DASHBOARD_PATH) ? relaxed(req, res, next) : strict(req, res, next)));

  if (d.devMode) {
    app.use((_req, res, next) => {
      res.setHeader('X-Bridge-Mode', 'dev');
      next();
    });
  }

  app.use((req, res, next) => {
    const incoming = req.header('x-request-id');
    const id = incoming && /^[A-Za-z0-9-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', id);
    const started = Date.now();
    res.on('finish', () => d.log.info({ requestId: id, method: req.method, path: req.path, status: res.statusCode, ms: Date.now() - started, user: req.identity?.username }, 'request'));
    next();
  });

  if (d.publicHandler) app.use(d.publicHandler);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'bridge_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const [queue, counts] of Object.entries(await d.queues.depths())) for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
    },
  });
  for (const [table, name] of [['artifacts', 'bridge_artifacts'], ['images', 'bridge_images'], ['upload_batches', 'bridge_upload_batches'], ['upload_items', 'bridge_upload_subjects']] as const) {
    new Gauge({
      name,
      help: `${table} per state`,
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [state, n] of Object.entries(await d.repos.health.countByState(table))) this.set({ state }, n);
      },
    });
  }

  const signer = mediaSigner(d.mediaSecret, d.mediaUrlTtlSeconds ?? DEFAULT_MEDIA_URL_TTL_SECONDS);
  app.use(mediaRoutes(d.store, d.mediaSecret));
  const bundles = new UiBundles(UI_DIR);
  bundles.warm((err) => d.log.error({ err }, 'a page script did not build: that page answers 500'));
  app.use('/ui', uiAssets(bundles));
  // Caesar authenticates with HTTP Basic per collection, which the authentication slot would refuse: mounted before it, no session so no CSRF.
  app.use(caesarIntakeRoutes({ repos: d.repos, clock: systemClock, log: d.log }));
  app.use(d.authenticator);
  app.get('/readyz', async (req, res) => {
    const checks: Record<string, string> = {};
    const run = async (name: string, f: () => Promise<unknown>) => {
      try {
        await f();
        checks[name] = 'ok';
      } catch (e) {
        checks[name] = `failed: ${(e as Error).message}`;
      }
    };
    await run('database', () => d.repos.health.ping());
    await run('redis', d.checkRedis);
    await run('storage', () => d.store.check());
    const ok = Object.values(checks).every((v) => v === 'ok');
    // Anyone (a load balancer) may learn whether the service is ready; which dependency failed, and how, is for admins.
    const admin = req.identity?.roles.includes('admin') ?? false;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', ...(admin ? { checks } : {}) });
  });

  const retries = d.upstreamRetries;
  if (retries) {
    new Counter({
      name: 'bridge_upstream_retries_total',
      help: 'Failed calls to the Butler, storage and Zooniverse, by error class: retried in-process, or given up (to the job layer)',
      labelNames: ['upstream', 'error_class', 'outcome'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await retries()) this.inc({ upstream: r.upstream, error_class: r.errorClass, outcome: r.outcome }, r.n);
      },
    });
  }
  // Queue depths and state counts describe the deployment: admins only (Prometheus scrapes with an admin's bearer token).
  app.get('/metrics', requireRole('admin'), async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  // The same object, not a copy: the API server may learn its public URL after listening.
  app.use(authRoutes(Object.assign(d.auth, { sessions: d.repos.sessions, log: d.log })));
  app.get('/', (_req, res) => res.redirect(302, '/review'));
  app.get('/review', uiPage('/review', bundles, d.devMode ?? false));
  app.get('/pi', uiPage('/pi', bundles, d.devMode ?? false));
  app.get('/admin', uiPage('/admin', bundles, d.devMode ?? false));

  const writes = rateLimit({
    windowMs: 60_000,
    limit: d.writeRateLimit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => ['GET', 'HEAD', 'OPTIONS'].includes(req.method),
    keyGenerator: (req) => (req.identity ? `user:${req.identity.username}` : `ip:${ipKeyGenerator(req.ip ?? '')}`),
    handler: problem('too_many_requests', 'Too many requests', 'slow down: too many changes in the last minute'),
  });
  const api = express.Router();
  api.use(writes);
  api.use(express.json({ limit: '64kb' }));
  api.use(requireCsrf);
  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  api.get('/docs', (_req, res) => {
    res.type('html').send(apiDocsPage(openApiDocument()));
  });
  api.get('/me', requireRole('pi'), (req, res) => {
    const who = req.identity!;
    res.json({ username: who.username, roles: who.roles, groups: who.groups, dataRights: who.dataRights, ...(req.csrfToken ? { csrfToken: req.csrfToken } : {}) });
  });
  api.use(previewRoutes({ repos: d.repos, artifactRoot: d.artifactRoot, sourceFor: d.sources }));
  api.use(piRoutes({ repos: d.repos, store: d.store, webhooks: d.webhooks, clock: systemClock }));
  api.use(resultsRoutes({ repos: d.repos, signer }));
  api.use(collectionRoutes({ repos: d.repos, queues: d.queues, defaultPollIntervalSeconds: d.defaultPollIntervalSeconds, artifactRoot: d.artifactRoot, releases: d.releases ?? DEFAULT_RELEASES }));
  api.use(reviewRoutes({ repos: d.repos, signer, log: d.log, release: (cid, ids, o) => d.queues.release(cid, ids, o), publishDelaySeconds: d.publishDelaySeconds, releaseProgress: (cid, o) => releaseProgress(d.repos, cid, o), allowHttpWebhooks: !d.auth.secureCookies, webhookAllowedHosts: d.webhookAllowedHosts, uploading: !!d.panoptes }));
  api.use(renderRoutes({ repos: d.repos, store: d.store }));
  api.use(adminRoutes({ repos: d.repos, queues: d.queues, clock: systemClock }));
  api.use(projectBindingRoutes({ repos: d.repos }));
  api.use(adminOverviewRoutes({ repos: d.repos, releases: d.releases ?? DEFAULT_RELEASES, releasesFile: d.releasesFile }));
  api.use(retryRoutes({ repos: d.repos, queues: d.queues, clock: systemClock }));
  api.use(resultsRulesRoutes({ repos: d.repos, queues: d.queues, zooniverse: d.zooniverseEffects }));
  api.use(caesarSecretRoutes({ repos: d.repos, publicBaseUrl: () => d.auth.publicBaseUrl }));
  api.use(resultsStatusRoutes({ repos: d.repos, queues: d.queues, source: d.classificationSource, clock: systemClock, log: d.log }));
  api.use(takedownRoutes({ repos: d.repos, takedown: { repos: d.repos, lock: d.lock, store: d.store, log: d.log, panoptes: d.panoptes }, queues: d.queues }));
  app.use('/api/v1', api);

  // The dashboard can retry, promote and clean jobs; from a browser it cannot send our CSRF
  // token, so for cookie sessions it is read-only (API clients with bearer tokens may still act).
  app.use(QUEUE_DASHBOARD_PATH, requireRole('admin'), requireCsrf, d.queueDashboard);

  app.use(problem('not_found', 'Not found'));
  app.use(problemHandler(d.log));
  return app;
}
