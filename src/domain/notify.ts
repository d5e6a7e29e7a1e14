import { createHmac, randomBytes } from 'node:crypto';
import { UpstreamError } from './errors.js';
import type { EventKind } from './ports/events-repository.js';
import type { Repositories } from './ports/repositories.js';
import type { WebhookSender } from './ports/webhook-sender.js';

/**
 * Notifications: every event a PI may care about (a batch quarantined,
 * approved, published, uploaded, failed, retracted) is a row in `events`
 * first, so nothing is lost; delivery to the collection's webhook is a
 * retried job that marks the row delivered. The body is JSON signed with
 * HMAC-SHA256 over the exact bytes, under the collection's own secret.
 */
export type { EventKind };

/** Deliveries tried before an event is left undelivered for good (its error stays on the row). */
const MAX_DELIVERY_ATTEMPTS = 20;

/** A new webhook secret, shown to the PI once. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Events waiting for delivery to a configured webhook, oldest first. */
export async function undelivered(repos: Repositories, limit = 500): Promise<string[]> {
  return repos.events.undelivered(limit, MAX_DELIVERY_ATTEMPTS);
}

/**
 * POSTs one event. Delivered marks it so; anything else is recorded on the
 * row and thrown as retryable.
 */
export async function deliverEvent(d: { repos: Repositories; webhooks: WebhookSender }, eventId: string): Promise<'delivered' | 'skipped'> {
  const e = await d.repos.events.forDelivery(eventId);
  if (!e || e.delivered_at || !e.webhook_url || !e.webhook_secret) return 'skipped';
  const body = JSON.stringify({ id: String(e.id), kind: e.kind, collection: { id: e.collection_id, name: e.name }, at: new Date(e.created_at).toISOString(), data: e.payload });
  const outcome = await d.webhooks.send({
    url: e.webhook_url,
    body,
    headers: { 'content-type': 'application/json', 'x-bridge-event': e.kind, 'x-bridge-delivery': String(e.id), 'x-bridge-signature': signature(e.webhook_secret, body) },
  });
  if (!outcome.delivered) {
    await d.repos.events.markFailed(eventId, outcome.reason);
    throw new UpstreamError(outcome.reason);
  }
  await d.repos.events.markDelivered(eventId);
  return 'delivered';
}
