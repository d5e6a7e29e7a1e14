import type { WebhookSender } from '../../domain/ports/webhook-sender.js';

export interface HttpWebhookOptions {
  timeoutMs?: number;
  /** For tests: a fetch to send through. */
  fetch?: typeof fetch;
}

/**
 * Webhooks over HTTP(S). Redirects are not followed: the URL is the PI's,
 * and a redirect could point anywhere. The body is drained so the
 * connection can be reused.
 */
export function httpWebhookSender(o: HttpWebhookOptions = {}): WebhookSender {
  const send = o.fetch ?? fetch;
  return {
    async send(d) {
      try {
        const res = await send(d.url, { method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(o.timeoutMs ?? 10_000), headers: d.headers, body: d.body });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) return { delivered: false, reason: `the webhook answered HTTP ${res.status}` };
        return { delivered: true };
      } catch (err) {
        return { delivered: false, reason: `the webhook could not be reached (${(err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message})` };
      }
    },
  };
}
