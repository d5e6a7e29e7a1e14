import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { forbiddenAddress, isAllowListed, isIpLiteral, normalHost } from '../../domain/webhook-url.js';

/*
 * The one way the bridge sends HTTP to a URL a PI chose (webhooks). The
 * bridge sits inside the operator's network, so such a URL must not reach
 * anything private: the host is resolved once, every address it resolves to
 * is checked, and the connection is pinned to the checked addresses (a second
 * DNS answer cannot rebind it). Redirects are never followed, time and the
 * response size are bounded, and failures come back as a few fixed phrases
 * a PI may read: never a response body or an internal detail.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface OutboundOptions {
  /** Plain http:// as well as https:// (dev mode only). */
  allowHttp: boolean;
  /** Hosts (names or literal addresses) the operator exempts from the private-address check. */
  allowedHosts?: readonly string[];
  /** Resolves a host name to all its addresses; node:dns by default, injected by tests. */
  lookup?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** Until the TCP connection is up (default 5 s). */
  connectTimeoutMs?: number;
  /** Whole exchange, lookup included (default 10 s). */
  timeoutMs?: number;
  /** Bytes of response body kept; the rest is not read (default 4 KiB). */
  maxResponseBytes?: number;
  /** Extra CA certificates for https (tests). */
  ca?: string | Buffer;
}

export interface OutboundRequest {
  method: 'POST' | 'GET' | 'PUT';
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** The fixed phrases a failure is reported with. */
export const OUTBOUND_FAILURES = {
  invalidUrl: 'refused: invalid URL',
  notHttps: 'refused: not https',
  privateAddress: 'refused: private address',
  unresolved: 'could not resolve the host',
  connect: 'could not connect',
  timeout: 'timed out',
} as const;
export type OutboundFailure = (typeof OUTBOUND_FAILURES)[keyof typeof OUTBOUND_FAILURES];

/** An answer (any status: redirects are answers, not followed), or why there was none. */
export type OutboundResult = { ok: true; status: number; body: Buffer; truncated: boolean } | { ok: false; reason: OutboundFailure };

const systemLookup = async (hostname: string): Promise<ResolvedAddress[]> => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Resolves and checks the host: the addresses to connect to, or why none may be. */
export async function checkedAddresses(hostname: string, o: OutboundOptions): Promise<ResolvedAddress[] | OutboundFailure> {
  const host = normalHost(hostname);
  const exempt = isAllowListed(host, o.allowedHosts ?? []);
  let addresses: ResolvedAddress[];
  if (isIpLiteral(host)) addresses = [{ address: host, family: host.includes(':') ? 6 : 4 }];
  else {
    try {
      addresses = await (o.lookup ?? systemLookup)(host);
    } catch {
      return OUTBOUND_FAILURES.unresolved;
    }
    if (!addresses.length) return OUTBOUND_FAILURES.unresolved;
  }
  // Every address, not just the first: the connection may use any of them.
  if (!exempt && addresses.some((a) => forbiddenAddress(a.address))) return OUTBOUND_FAILURES.privateAddress;
  return addresses;
}

/** A net lookup that only ever answers the addresses already checked. */
export function pinned(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, addresses);
    else {
      const a = addresses.find((x) => !options.family || x.family === options.family) ?? addresses[0];
      callback(null, a.address, a.family);
    }
  };
}

/** The URL when the bridge may call it at all (https, or http where allowed), else why not. */
export function outboundUrl(url: string, o: Pick<OutboundOptions, 'allowHttp'>): URL | OutboundFailure {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return OUTBOUND_FAILURES.invalidUrl;
  }
  if (u.protocol !== 'https:' && !(o.allowHttp && u.protocol === 'http:')) return OUTBOUND_FAILURES.notHttps;
  return u;
}

/**
 * A request connected only to the checked addresses, never through a shared
 * agent; `onConnectTimeout` runs when no connection is up within `connectMs`
 * (the returned timer is the caller's to clear with its others).
 */
export function pinnedRequest(
  u: URL,
  method: string,
  headers: Record<string, string>,
  addresses: ResolvedAddress[],
  o: Pick<OutboundOptions, 'ca'>,
  onResponse: (res: IncomingMessage) => void,
  connectMs: number,
  onConnectTimeout: () => void,
): { request: ClientRequest; connectTimer: NodeJS.Timeout } {
  const options = {
    method,
    host: normalHost(u.hostname),
    port: u.port || (u.protocol === 'https:' ? 443 : 80),
    path: `${u.pathname}${u.search}`,
    headers,
    // A literal address needs no lookup; a name connects only to what was checked, while TLS (SNI, certificate) and Host still use the name.
    lookup: pinned(addresses),
    agent: false as const,
    ...(o.ca ? { ca: o.ca } : {}),
  };
  const connectTimer = setTimeout(onConnectTimeout, connectMs);
  const request = u.protocol === 'https:' ? httpsRequest(options, (res) => (clearTimeout(connectTimer), onResponse(res))) : httpRequest(options, (res) => (clearTimeout(connectTimer), onResponse(res)));
  request.on('socket', (s) => s.once('connect', () => clearTimeout(connectTimer)).once('secureConnect', () => clearTimeout(connectTimer)));
  return { request, connectTimer };
}

export async function outboundRequest(url: string, req: OutboundRequest, o: OutboundOptions): Promise<OutboundResult> {
  const u = outboundUrl(url, o);
  if (typeof u === 'string') return { ok: false, reason: u };
  const timeoutMs = o.timeoutMs ?? 10_000;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  try {
    const checked = await Promise.race([checkedAddresses(u.hostname, o), deadline]);
    if (checked === 'timeout') return { ok: false, reason: OUTBOUND_FAILURES.timeout };
    if (typeof checked === 'string') return { ok: false, reason: checked };
    return await send(u, req, o, checked, Math.max(1, timeoutMs - (Date.now() - started)));
  } finally {
    clearTimeout(timer);
  }
}

function send(u: URL, req: OutboundRequest, o: OutboundOptions, addresses: ResolvedAddress[], remainingMs: number): Promise<OutboundResult> {
  const max = o.maxResponseBytes ?? 4096;
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const done = (r: OutboundResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve(r);
    };
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const headers = { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < max) chunks.push(c.subarray(0, max - size));
        size += c.length;
        if (size > max) {
          // Enough: the rest is never read.
          done({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks), truncated: true });
          r.destroy();
        }
      });
      res.on('end', () => done({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks), truncated: false }));
      res.on('error', () => done({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks), truncated: true }));
    };
    const timedOut = () => {
      done({ ok: false, reason: OUTBOUND_FAILURES.timeout });
      r.destroy();
    };
    const { request: r, connectTimer } = pinnedRequest(u, req.method, headers, addresses, o, onResponse, Math.min(o.connectTimeoutMs ?? 5_000, remainingMs), timedOut);
    timers.push(setTimeout(timedOut, remainingMs), connectTimer);
    r.on('error', () => done({ ok: false, reason: OUTBOUND_FAILURES.connect }));
    r.end(body);
  });
}
