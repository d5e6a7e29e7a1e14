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

export async function listenEarly(host: string, port: number): Promise<EarlyListener> {
  let current: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => (current ? current(req, res) : starting(req, res)));
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
