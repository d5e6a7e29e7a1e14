import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createApi, QUEUE_DASHBOARD_PATH } from '../api/app.js';
import { authenticator } from '../api/auth.js';
import { systemClock } from '../domain/ports/clock.js';
import { ownerRightsWatcher } from '../domain/reevaluation.js';
import type { IdentityProvider } from '../domain/ports/identity-provider.js';
import { FsObjectStore, servePublic } from '../adapters/storage/fs-store.js';
import { queueDashboard } from '../adapters/queue/queue-dashboard.js';
import { httpWebhookSender } from '../adapters/webhook/http-webhook-sender.js';
import { OidcIdentity } from '../identity/oidc-identity.js';
import type { Config } from '../config/config.js';
import type { Services } from './service.js';
import { listenEarly, type EarlyListener } from './early-listener.js';

/** The OIDC provider from configuration, or none (dev only: the config refuses production without one). */
export async function identityProvider(c: Config, publicBaseUrl: string): Promise<IdentityProvider | undefined> {
  if (!c.OIDC_ISSUER) return undefined;
  return OidcIdentity.discover({
    issuer: c.OIDC_ISSUER,
    clientId: c.OIDC_CLIENT_ID!,
    clientSecret: c.OIDC_CLIENT_SECRET!,
    redirectUri: new URL('/auth/callback', publicBaseUrl).toString(),
    scopes: c.OIDC_SCOPES,
    audiences: c.OIDC_AUDIENCES ?? [c.OIDC_CLIENT_ID!],
    usernameClaim: c.OIDC_USERNAME_CLAIM,
    groupsClaim: c.OIDC_GROUPS_CLAIM,
    userInfoGroupsUrl: c.OIDC_USER_INFO_GROUPS_URL,
    reviewerGroups: c.REVIEWER_GROUPS,
    adminGroups: c.ADMIN_GROUPS,
    allowHttp: c.OIDC_ALLOW_HTTP,
    requiredScope: c.OIDC_REQUIRED_SCOPE,
  });
}

/** Composition root of the API process. */
export async function startApiRole(
  s: Services,
  port = s.config.PORT,
  opts: { loginRateLimit?: number; writeRateLimit?: number; listener?: EarlyListener } = {},
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const c = s.config;
  const dev = c.BRIDGE_MODE === 'dev';
  if (dev) {
    s.log.warn(
      { mode: 'dev', host: c.HOST, devSignIn: !c.OIDC_ISSUER },
      'BRIDGE_MODE=dev: NOT FOR PRODUCTION. Dev sign-in and X-Bridge-Dev-User/X-Bridge-Dev-Roles headers let anyone act as any user; listening on loopback only',
    );
  }
  // The callback URL must be known before listening when the port is fixed;
  // with port 0 (tests, demo) it is completed once the port is known.
  let publicBaseUrl = c.PUBLIC_BASE_URL ?? `http://${c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST}:${port}`;
  const late = !c.PUBLIC_BASE_URL && port === 0;
  let provider: IdentityProvider | undefined;
  const lazyProvider: IdentityProvider = {
    beginLogin: (r) => provider!.beginLogin(r),
    completeLogin: (u, f) => provider!.completeLogin(u, f),
    verifyBearer: (t) => provider!.verifyBearer(t),
    recheckSession: (t, u) => provider!.recheckSession(t, u),
    endSessionUrl: (h, p) => provider!.endSessionUrl(h, p),
  };
  if (!late) provider = await identityProvider(c, publicBaseUrl);
  const hasProvider = !!c.OIDC_ISSUER;
  // In dev a random secret per process is fine: media links only live minutes.
  const mediaSecret = c.SESSION_SECRET ? Buffer.from(c.SESSION_SECRET) : randomBytes(32);
  const auth = {
    provider: hasProvider ? lazyProvider : undefined,
    devLogin: dev && !hasProvider,
    publicBaseUrl,
    secureCookies: !dev || publicBaseUrl.startsWith('https:'),
    sessionTtlMs: c.SESSION_TTL_HOURS * 3_600_000,
    loginRateLimit: opts.loginRateLimit ?? 30,
  };
  const app = createApi({
    repos: s.repos,
    lock: s.lock,
    queues: s.queues,
    queueDashboard: queueDashboard(s.queues.queues.values(), QUEUE_DASHBOARD_PATH),
    store: s.store,
    log: s.log,
    authenticator: authenticator({ sessions: s.repos.sessions, provider: auth.provider, devHeaders: dev && !hasProvider, sessionRolesMaxAgeMs: hasProvider ? c.SESSION_ROLES_REFRESH_SECONDS * 1000 : undefined, seen: ownerRightsWatcher({ repos: s.repos, queues: s.queues, clock: systemClock, log: s.log }) }),
    publicHandler: s.store instanceof FsObjectStore ? servePublic(s.store) : undefined,
    defaultPollIntervalSeconds: c.DEFAULT_POLL_INTERVAL_SECONDS,
    publishDelaySeconds: c.PUBLISH_DELAY_SECONDS,
    artifactRoot: c.ARTIFACT_ROOT,
    releases: s.releases,
    releasesFile: c.RELEASES_FILE,
    checkRedis: s.checkRedis,
    upstreamRetries: () => s.retryCounts.read(),
    auth,
    mediaSecret,
    mediaUrlTtlSeconds: c.MEDIA_URL_TTL_SECONDS,
    writeRateLimit: opts.writeRateLimit ?? 120,
    panoptes: s.panoptes,
    zooniverseEffects: s.zooniverseEffects,
    classificationSource: s.classificationSource,
    webhookAllowedHosts: c.WEBHOOK_ALLOWED_HOSTS,
    sources: s.sources,
    webhooks: httpWebhookSender({ allowHttp: dev, allowedHosts: c.WEBHOOK_ALLOWED_HOSTS }),
    devMode: dev,
  });
  // `serve` opens the port before the services are built (see early-listener.ts); the application takes over its requests.
  const listener = opts.listener ?? (await listenEarly(c.HOST, port));
  listener.serve(app);
  const { server, url } = listener;
  if (late) {
    publicBaseUrl = url;
    auth.publicBaseUrl = url;
    try {
      provider = await identityProvider(c, url);
    } catch (e) {
      server.close();
      throw e;
    }
  }
  s.log.info({ url, identity: hasProvider ? c.OIDC_ISSUER : 'dev sign-in (no provider)' }, 'api listening');
  return {
    server,
    url,
    close: () => listener.close(),
  };
}
