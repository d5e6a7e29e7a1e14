import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The API's port opens before the service is built: opening the embedded
 * database, migrating it and warming up take seconds, and a load balancer or
 * a PI's first request should meet an answer, not a refused connection.
 * Until the real application is handed over, /healthz says the process is
 * alive, /readyz says it is not ready, and everything else is a 503 with
 * Retry-After. Only node:http is loaded here, so the port opens before the
 * service stack is even imported.
 */
export interface EarlyListener {
  server: Server;
  /** http://host:port as bound (port 0 resolved). */
  url: string;
  /** From now on every request goes to `handler`. */
  serve(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

/** Longer than ingress-nginx's and the common cloud load balancers' 60 s upstream idle timeout. */
const KEEP_ALIVE_MS = 65_000;

export async function listenEarly(host: string, port: number): Promise<EarlyListener> {
  let current: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => (current ? current(req, res) : starting(req, res)));
  // Node closes an idle keep-alive connection after 5 s by default. Two things
  // make that reset requests a client has already sent: a proxy in front
  // (ingress-nginx, cloud load balancers) keeps upstream connections for 60 s
  // and reuses one the service has just closed, and while the embedded
  // database is created on first start (PGlite's initdb, seconds on one
  // thread) the close timer fires late, in the same turn as the request that
  // arrived meanwhile. The service must be the side that outlasts its
  // clients, so it keeps idle connections longer than the usual proxy does.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // Node requires the headers timeout to exceed the keep-alive timeout, or a
  // slow first request on a reused connection is cut short.
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const addr = server.address() as { port: number };
  return {
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`,
    serve(handler) {
      current = handler;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function starting(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') return json(res, 200, { status: 'ok', ready: false });
  if (path === '/readyz') return json(res, 503, { status: 'starting' }, { 'retry-after': '2' });
  json(res, 503, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the service is starting (opening the database and applying migrations); try again in a moment' }, { 'retry-after': '2', 'content-type': 'application/problem+json' });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
