import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { OUTBOUND_FAILURES, checkedAddresses, outboundUrl, pinnedRequest, type OutboundFailure, type OutboundOptions } from './outbound.js';

/*
 * outbound.ts for answers too large to hold: a GET to a URL the bridge did
 * not choose (the signed link of a Zooniverse export, handed over by
 * Panoptes and pointing at whatever storage it uses), under the same guard:
 * the host resolved once, every address checked against the private ranges
 * (unless allow-listed), the connection pinned to the checked addresses, no
 * redirects. The body is handed back as a stream, not read: the caller reads
 * it at its own pace, and a connection idle for longer than idleTimeoutMs is
 * destroyed with an error so a stalled download cannot hang a worker.
 */

export interface OutboundStreamOptions extends OutboundOptions {
  /** Until the answer's headers (default 30 s); the lookup and the connection included. */
  timeoutMs?: number;
  /** Longest silence while the body is read (default 60 s). */
  idleTimeoutMs?: number;
}

export type OutboundStreamResult = { ok: true; status: number; headers: IncomingHttpHeaders; body: IncomingMessage } | { ok: false; reason: OutboundFailure };

export async function outboundGetStream(url: string, headers: Record<string, string>, o: OutboundStreamOptions): Promise<OutboundStreamResult> {
  const u = outboundUrl(url, o);
  if (typeof u === 'string') return { ok: false, reason: u };
  const checked = await checkedAddresses(u.hostname, o);
  if (typeof checked === 'string') return { ok: false, reason: checked };
  return new Promise((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const done = (r: OutboundStreamResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve(r);
    };
    const onResponse = (res: IncomingMessage) => {
      const idle = o.idleTimeoutMs ?? 60_000;
      res.socket.setTimeout(idle, () => res.destroy(Object.assign(new Error(`no data for ${idle / 1000} s`), { code: 'timeout' })));
      done({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: res });
    };
    const timedOut = () => {
      done({ ok: false, reason: OUTBOUND_FAILURES.timeout });
      r.destroy();
    };
    const { request: r, connectTimer } = pinnedRequest(u, 'GET', headers, checked, o, onResponse, o.connectTimeoutMs ?? 5_000, timedOut);
    timers.push(setTimeout(timedOut, o.timeoutMs ?? 30_000), connectTimer);
    r.on('error', () => done({ ok: false, reason: OUTBOUND_FAILURES.connect }));
    r.end();
  });
}
