import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outboundRequest, type OutboundOptions, type ResolvedAddress } from '../../src/adapters/http/outbound.js';
import { httpWebhookSender } from '../../src/adapters/webhook/http-webhook-sender.js';
import { forbiddenAddress, webhookUrlProblem } from '../../src/domain/webhook-url.js';
import { newWebhookSecret, standardSignature } from '../../src/domain/notify.js';

/**
 * The outbound helper as an attacker (a PI choosing a webhook URL) would
 * try it: loopback, private, link-local and metadata addresses, spelled
 * literally, in IPv6, through DNS, mixed with public answers, rebound after
 * the check, and behind a redirect. Each is refused, and the listener that
 * stands for the internal service never sees a connection.
 */

interface Listener {
  server: Server;
  port: number;
  connections: number;
  requests: { url: string; headers: IncomingMessage['headers']; body: string }[];
}

const open: Server[] = [];

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1', port = 0): Promise<Listener> {
  const l: Listener = { server: undefined as unknown as Server, port: 0, connections: 0, requests: [] };
  l.server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      l.requests.push({ url: req.url ?? '', headers: req.headers, body });
      handler(req, res);
    });
  });
  l.server.on('connection', () => (l.connections += 1));
  await new Promise<void>((r, j) => l.server.once('error', j).listen(port, host, r));
  l.port = (l.server.address() as AddressInfo).port;
  open.push(l.server);
  return l;
}

/** A resolver that answers from a table, counting its calls. */
function resolver(table: Record<string, string[] | (() => string[])>) {
  const calls: string[] = [];
  const lookup = async (h: string): Promise<ResolvedAddress[]> => {
    calls.push(h);
    const e = table[h];
    if (!e) throw new Error(`ENOTFOUND ${h}`);
    return (typeof e === 'function' ? e() : e).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { lookup, calls };
}

const post = { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: '{"hello":1}' };

let victim: Listener;
beforeAll(async () => {
  // Stands for the bridge's own API, Redis, a metadata service: anything inside.
  victim = await listen((_req, res) => res.writeHead(401).end('internal detail: token invalid for admin API'));
});
afterEach(() => {
  victim.connections = 0;
});
afterAll(async () => {
  for (const s of open) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('address classification', () => {
  it('refuses every non-public range, IPv4-mapped IPv6 included, and lets public addresses through', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.255', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::127.0.0.1', '[::1]', 'not-an-ip']) {
      expect(forbiddenAddress(a), a).toBeDefined();
    }
    for (const a of ['8.8.8.8', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) expect(forbiddenAddress(a), a).toBeUndefined();
  });

  it('registration refuses http and literal private hosts in production, unless allow-listed', () => {
    const prod = { allowHttp: false, allowedHosts: [] };
    expect(webhookUrlProblem('http://hooks.example.org/x', prod)).toMatch(/https/);
    for (const u of ['https://127.0.0.1/', 'https://127.1/', 'https://2130706433/', 'https://0x7f.0.0.1/', 'https://10.0.0.1/', 'https://169.254.169.254/latest/meta-data/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://[fd00::1]/', 'https://localhost/', 'https://api.localhost/', 'https://0.0.0.0/']) {
      expect(webhookUrlProblem(u, prod), u).toMatch(/private/);
    }
    expect(webhookUrlProblem('https://hooks.example.org/x', prod)).toBeUndefined();
    expect(webhookUrlProblem('https://10.1.2.3/x', { allowHttp: false, allowedHosts: ['10.1.2.3'] })).toBeUndefined();
    expect(webhookUrlProblem('not a url', prod)).toBeDefined();
    // Dev accepts http (delivery still refuses private addresses that are not allow-listed).
    expect(webhookUrlProblem('http://127.0.0.1:9/x', { allowHttp: true, allowedHosts: [] })).toBeUndefined();
  });
});

describe('refused before any connection', () => {
  const o: OutboundOptions = { allowHttp: true, timeoutMs: 2000 };

  it('literal loopback, private, link-local (metadata) and IPv6 loopback', async () => {
    const cases = [`http://127.0.0.1:${victim.port}/`, `http://127.1:${victim.port}/`, `http://2130706433:${victim.port}/`, 'http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${victim.port}/`, `http://[::ffff:127.0.0.1]:${victim.port}/`, `http://0.0.0.0:${victim.port}/`, 'http://100.64.0.1/'];
    for (const url of cases) expect(await outboundRequest(url, post, o), url).toEqual({ ok: false, reason: 'refused: private address' });
    expect(victim.connections).toBe(0);
  });

  it('a name that resolves to loopback, or to a public address and a private one', async () => {
    const r = resolver({ 'evil.test': ['127.0.0.1'], 'mixed.test': ['93.184.216.34', '127.0.0.1'], 'v6.test': ['::1'], 'mapped.test': ['::ffff:127.0.0.1'] });
    for (const h of ['evil.test', 'mixed.test', 'v6.test', 'mapped.test']) {
      expect(await outboundRequest(`http://${h}:${victim.port}/`, post, { ...o, lookup: r.lookup }), h).toEqual({ ok: false, reason: 'refused: private address' });
    }
    expect(victim.connections).toBe(0);
  });

  it('plain http outside dev mode, and unresolvable hosts', async () => {
    expect(await outboundRequest(`http://hooks.example.org/`, post, { allowHttp: false })).toEqual({ ok: false, reason: 'refused: not https' });
    expect(await outboundRequest(`ftp://hooks.example.org/`, post, { allowHttp: true })).toEqual({ ok: false, reason: 'refused: not https' });
    expect(await outboundRequest(`http://nowhere.test/`, post, { ...o, lookup: resolver({}).lookup })).toEqual({ ok: false, reason: 'could not resolve the host' });
  });

  it('the webhook sender stores only the generic phrase', async () => {
    const sender = httpWebhookSender({ allowHttp: true, lookup: resolver({ 'evil.test': ['127.0.0.1'] }).lookup });
    expect(await sender.send({ url: `http://evil.test:${victim.port}/`, body: '{}', headers: {} })).toEqual({ delivered: false, reason: 'refused: private address' });
    expect(await httpWebhookSender().send({ url: `http://127.0.0.1:${victim.port}/`, body: '{}', headers: {} })).toEqual({ delivered: false, reason: 'refused: not https' });
    expect(victim.connections).toBe(0);
  });
});

describe('redirects, rebinding, bounds', () => {
  it('a redirect to a private address is a failed delivery and is not followed', async () => {
    const redirector = await listen((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${victim.port}/admin` }).end('moved'));
    // The redirector stands for a public host; here it must be allow-listed to be reached on loopback.
    const sender = httpWebhookSender({ allowHttp: true, allowedHosts: ['public-looking.test'], lookup: resolver({ 'public-looking.test': ['127.0.0.1'] }).lookup });
    const out = await sender.send({ url: `http://public-looking.test:${redirector.port}/hook`, body: '{}', headers: {} });
    expect(out).toEqual({ delivered: false, reason: 'the webhook answered HTTP 302 (redirects are not followed)' });
    expect(redirector.connections).toBe(1);
    expect(victim.connections).toBe(0);
  });

  it('connects only to the address that was checked, however DNS answers later (no rebinding)', async () => {
    const a = await listen((_req, res) => res.writeHead(204).end());
    let b: Listener;
    try {
      b = await listen((_req, res) => res.writeHead(204).end(), '127.0.0.2', a.port);
    } catch {
      return; // no 127.0.0.2 on this machine: the pinning is still shown by the lookup count below
    }
    let n = 0;
    const r = resolver({ 'rebind.test': () => (n++ === 0 ? ['127.0.0.1'] : ['127.0.0.2']) });
    const out = await outboundRequest(`http://rebind.test:${a.port}/x`, post, { allowHttp: true, allowedHosts: ['rebind.test'], lookup: r.lookup });
    expect(out).toMatchObject({ ok: true, status: 204 });
    expect(r.calls).toEqual(['rebind.test']);
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(0);
    // Host is the name, not the address.
    expect(a.requests[0].headers.host).toBe(`rebind.test:${a.port}`);
  });

  it('reads at most the body cap, then drops the connection', async () => {
    const big = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(64 * 1024));
      // Never ends: the helper must not wait for the rest.
    });
    const out = await outboundRequest(`http://127.0.0.1:${big.port}/`, post, { allowHttp: true, allowedHosts: ['127.0.0.1'], maxResponseBytes: 1024, timeoutMs: 5000 });
    expect(out).toMatchObject({ ok: true, status: 200, truncated: true });
    expect((out as { body: Buffer }).body.length).toBe(1024);
  });

  it('a server that never answers: "timed out" within the configured timeout', async () => {
    const silent = await listen(() => undefined);
    const t0 = Date.now();
    const out = await httpWebhookSender({ allowHttp: true, allowedHosts: ['127.0.0.1'], timeoutMs: 500 }).send({ url: `http://127.0.0.1:${silent.port}/`, body: '{}', headers: {} });
    const took = Date.now() - t0;
    expect(out).toEqual({ delivered: false, reason: 'timed out' });
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2000);
  });

  it('a resolver that hangs counts against the same timeout', async () => {
    const out = await outboundRequest('http://slow.test/', post, { allowHttp: true, timeoutMs: 300, lookup: () => new Promise(() => undefined) });
    expect(out).toEqual({ ok: false, reason: 'timed out' });
  });

  it('a closed port is "could not connect"', async () => {
    const gone = await listen(() => undefined);
    const port = gone.port;
    await new Promise((r) => gone.server.close(r));
    expect(await outboundRequest(`http://127.0.0.1:${port}/`, post, { allowHttp: true, allowedHosts: ['127.0.0.1'] })).toEqual({ ok: false, reason: 'could not connect' });
  });
});

describe('allow-listed delivery, end to end', () => {
  it('signs the Standard Webhooks reference example exactly', () => {
    // The example in the Standard Webhooks specification and its reference libraries.
    expect(standardSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('a signed POST reaches the receiver; the signature verifies independently; failures store generic text', async () => {
    let answer = 204;
    const receiver = await listen((_req, res) => res.writeHead(answer, { 'content-type': 'text/plain' }).end('stack trace: secret internals at /srv/app.js:12'));
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const id = '42';
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id, kind: 'batch_uploaded' });
    const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': standardSignature(secret, id, ts, body) };
    const sender = httpWebhookSender({ allowHttp: true, allowedHosts: ['hooks.lab.test'], lookup: resolver({ 'hooks.lab.test': ['127.0.0.1'] }).lookup });
    const url = `http://hooks.lab.test:${receiver.port}/bridge`;
    expect(await sender.send({ url, body, headers })).toEqual({ delivered: true, status: 204 });

    const got = receiver.requests[0];
    expect(got.body).toBe(body);
    // Verified as the Standard Webhooks spec says, without the bridge's code.
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${String(got.headers['webhook-id'])}.${String(got.headers['webhook-timestamp'])}.${got.body}`).digest('base64');
    expect(String(got.headers['webhook-signature']).split(' ')).toContain(`v1,${expected}`);

    answer = 500;
    expect(await sender.send({ url, body, headers })).toEqual({ delivered: false, reason: 'the webhook answered HTTP 500' });
    answer = 401;
    const out = await sender.send({ url, body, headers });
    expect(out).toEqual({ delivered: false, reason: 'the webhook answered HTTP 401' });
    expect(JSON.stringify(out)).not.toContain('secret internals');
  });
});
