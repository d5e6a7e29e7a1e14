import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpWebhookSender } from '../../src/adapters/webhook/http-webhook-sender.js';
import { outboundRequest } from '../../src/adapters/http/outbound.js';
import { deliverEvent, newWebhookSecret } from '../../src/domain/notify.js';
import { UpstreamError } from '../../src/domain/errors.js';
import type { DeliverableEvent } from '../../src/domain/ports/events-repository.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';

/**
 * The reported attack, through deliverEvent: a PI's webhook pointing at the
 * bridge's own API on loopback. Before, the signed POST arrived and "HTTP
 * 401" landed in the PI-readable event log; now nothing connects and the row
 * says only "refused: private address".
 */
const servers: Server[] = [];
async function start(s: Server, host = '127.0.0.1'): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return (s.address() as AddressInfo).port;
}
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function eventRepos(url: string, secret: string) {
  const failed: string[] = [];
  const delivered: string[] = [];
  const ev: DeliverableEvent = { id: '7' as DeliverableEvent['id'], kind: 'batch_uploaded', payload: { seq: 1 }, created_at: new Date(), delivered_at: null, collection_id: 'c1', name: 'u/alien/zoo', webhook_url: url, webhook_secret: secret } as DeliverableEvent;
  const repos = { events: { forDelivery: async () => ev, markFailed: async (_id: string, e: string) => void failed.push(e), markDelivered: async (id: string) => void delivered.push(id) } } as unknown as Repositories;
  return { repos, failed, delivered };
}

describe('delivering an event', () => {
  it("to the bridge's own API on loopback: refused, nothing connects, the log says only the generic phrase", async () => {
    let connections = 0;
    const api = createHttpServer((_req, res) => res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"detail":"bearer token invalid"}'));
    api.on('connection', () => (connections += 1));
    const port = await start(api);
    for (const url of [`http://127.0.0.1:${port}/api/v1/admin`, `http://localhost:${port}/api/v1/admin`]) {
      const { repos, failed, delivered } = eventRepos(url, newWebhookSecret());
      // Dev mode (http allowed), no allow-list: the worker's own wiring.
      await expect(deliverEvent({ repos, webhooks: httpWebhookSender({ allowHttp: true, allowedHosts: [] }) }, '7')).rejects.toBeInstanceOf(UpstreamError);
      expect(failed).toEqual(['refused: private address']);
      expect(delivered).toEqual([]);
    }
    expect(connections).toBe(0);
  });

  it('to an allow-listed receiver: delivered, with Standard Webhooks headers that verify', async () => {
    const got: IncomingMessage[] = [];
    let body = '';
    const hook = createHttpServer((req, res) => {
      got.push(req);
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => res.writeHead(204).end());
    });
    const port = await start(hook);
    const secret = newWebhookSecret();
    const { repos, failed, delivered } = eventRepos(`http://127.0.0.1:${port}/hook`, secret);
    expect(await deliverEvent({ repos, webhooks: httpWebhookSender({ allowHttp: true, allowedHosts: ['127.0.0.1'] }), clock: { now: () => new Date(1_800_000_000_000) } }, '7')).toBe('delivered');
    expect(delivered).toEqual(['7']);
    expect(failed).toEqual([]);
    const h = got[0].headers;
    expect(h['webhook-id']).toBe('7');
    expect(h['webhook-timestamp']).toBe('1800000000');
    const key = Buffer.from(secret.slice(6), 'base64');
    expect(h['webhook-signature']).toBe(`v1,${createHmac('sha256', key).update(`7.1800000000.${body}`).digest('base64')}`);
    expect(h['x-bridge-event']).toBe('batch_uploaded');
    expect(h['x-bridge-signature']).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  });
});

describe('https to a pinned address', () => {
  let dir: string | undefined;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  beforeAll(() => {
    try {
      dir = mkdtempSync(join(tmpdir(), 'outbound-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=hooks.lab.test', '-addext', 'subjectAltName=DNS:hooks.lab.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      cert = readFileSync(join(dir, 'cert.pem'));
      key = readFileSync(join(dir, 'key.pem'));
    } catch {
      cert = undefined; // no openssl: the test below says so and skips
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects to the checked address while TLS (SNI, certificate name) and Host use the host name', async (ctx) => {
    if (!cert || !key) return ctx.skip();
    let sni: string | undefined;
    let host: string | undefined;
    const tls = createHttpsServer({ cert, key }, (req, res) => {
      host = req.headers.host;
      sni = (req.socket as unknown as { servername?: string }).servername;
      res.writeHead(204).end();
    });
    const port = await start(tls);
    const lookup = async () => [{ address: '127.0.0.1', family: 4 as const }];
    const ok = await outboundRequest(`https://hooks.lab.test:${port}/x`, { method: 'POST', headers: {}, body: '{}' }, { allowHttp: false, allowedHosts: ['hooks.lab.test'], lookup, ca: cert });
    expect(ok).toMatchObject({ ok: true, status: 204 });
    expect(sni).toBe('hooks.lab.test');
    expect(host).toBe(`hooks.lab.test:${port}`);
    // A certificate for another name is a failed connection, not a silent success.
    const wrong = await outboundRequest(`https://other.lab.test:${port}/x`, { method: 'POST', headers: {}, body: '{}' }, { allowHttp: false, allowedHosts: ['other.lab.test'], lookup, ca: cert });
    expect(wrong).toEqual({ ok: false, reason: 'could not connect' });
  });
});
