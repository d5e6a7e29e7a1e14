import type { WebhookSender } from '../../domain/ports/webhook-sender.js';
import { outboundRequest, type OutboundOptions } from '../http/outbound.js';

export type HttpWebhookOptions = Partial<OutboundOptions>;

/**
 * Webhooks over HTTP(S), through the outbound helper: https only unless the
 * composition root allows http (dev), no private addresses unless the
 * operator allow-listed the host, pinned to the checked addresses, no
 * redirects (a 3xx is a failed delivery), bounded in time and size. The
 * reason a PI reads is one of a few fixed phrases, never the answer's body.
 */
export function httpWebhookSender(o: HttpWebhookOptions = {}): WebhookSender {
  const options: OutboundOptions = { ...o, allowHttp: o.allowHttp ?? false };
  return {
    async send(d) {
      const r = await outboundRequest(d.url, { method: 'POST', headers: d.headers, body: d.body }, options);
      if (!r.ok) return { delivered: false, reason: r.reason };
      if (r.status >= 300 && r.status < 400) return { delivered: false, reason: `the webhook answered HTTP ${r.status} (redirects are not followed)` };
      if (r.status < 200 || r.status >= 300) return { delivered: false, reason: `the webhook answered HTTP ${r.status}` };
      return { delivered: true, status: r.status };
    },
  };
}
