import type { Server } from 'node:http';
import { createApi } from '../api/app.js';
import { devAuthenticator } from '../api/auth.js';
import { FsObjectStore, servePublic } from '../adapters/storage/fs-store.js';
import type { Services } from './service.js';

/** Composition root of the API process. */
export async function startApiRole(s: Services, port = s.config.PORT): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  // Identity arrives with the OIDC work; until then the API runs only in dev mode.
  if (s.config.BRIDGE_MODE !== 'dev') throw new Error('BRIDGE_MODE=production needs an identity provider, which is not configured; refusing to start the API');
  const app = createApi({
    db: s.db,
    queues: s.queues,
    store: s.store,
    log: s.log,
    authenticator: devAuthenticator,
    publicHandler: s.store instanceof FsObjectStore ? servePublic(s.store) : undefined,
    defaultPollIntervalSeconds: s.config.DEFAULT_POLL_INTERVAL_SECONDS,
    artifactRoot: s.config.ARTIFACT_ROOT,
    checkRedis: s.checkRedis,
  });
  const server = app.listen(port, s.config.HOST);
  await new Promise<void>((r, j) => server.once('listening', r).once('error', j));
  const addr = server.address() as { port: number };
  const url = `http://${s.config.HOST === '0.0.0.0' ? '127.0.0.1' : s.config.HOST}:${addr.port}`;
  s.log.info({ url }, 'api listening');
  return {
    server,
    url,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
