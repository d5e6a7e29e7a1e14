import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { UpstreamError, ValidationError } from './errors.js';
import type { Collection } from './model.js';
import type { EventKind } from './ports/events-repository.js';
import type { Repositories } from './ports/repositories.js';
import type { WebhookDelivery, WebhookSender } from './ports/webhook-sender.js';
import { systemClock, type Clock } from './ports/clock.js';

/**
 * Notifications: every event a PI may care about (a batch quarantined,
 * approved, published, uploaded, failed, retracted) is a row in `events`
 * first, so nothing is lost; delivery to the collection's webhook is a
 * retried job that marks the row delivered. Deliveries are signed as
 * Standard Webhooks (https://www.standardwebhooks.com) define it:
 * `webhook-id` (the event id, the same on every retry), `webhook-timestamp`
 * (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` under the key inside the collection's `whsec_`
 * secret. `x-bridge-signature` (HMAC over the body alone, keyed by the whole
 * secret string) is still sent for receivers written before; deprecated.
 */
export type { EventKind };

/** Deliveries tried before an event is left undelivered for good (its error stays on the row). */
const MAX_DELIVERY_ATTEMPTS = 20;

/** A new webhook secret, shown to the PI once: `whsec_` + standard base64 of 24 random bytes (the HMAC key). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** The deprecated `x-bridge-signature`: HMAC-SHA256 of the body, keyed by the secret string itself. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The Standard Webhooks `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` under the decoded key. */
export function standardSignature(secret: string, id: string, timestamp: number, body: string): string {
  // Secrets made before were base64url: node's base64 decoder reads both alphabets.
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Events waiting for delivery to a configured webhook, oldest first. */
export async function undelivered(repos: Repositories, limit = 500): Promise<string[]> {
  return repos.events.undelivered(limit, MAX_DELIVERY_ATTEMPTS);
}

/**
 * POSTs one event. Delivered marks it so; anything else is recorded on the
 * row and thrown as retryable.
 */
export async function deliverEvent(d: { repos: Repositories; webhooks: WebhookSender; clock?: Clock }, eventId: string): Promise<'delivered' | 'skipped'> {
  const e = await d.repos.events.forDelivery(eventId);
  if (!e || e.delivered_at || !e.webhook_url || !e.webhook_secret) return 'skipped';
  const body = JSON.stringify({ id: String(e.id), kind: e.kind, collection: { id: e.collection_id, name: e.name }, at: new Date(e.created_at).toISOString(), data: e.payload });
  const id = String(e.id);
  const timestamp = Math.floor((d.clock ?? systemClock).now().getTime() / 1000);
  const outcome = await d.webhooks.send(signedDelivery(e.webhook_url, e.webhook_secret, id, e.kind, timestamp, body));
  if (!outcome.delivered) {
    await d.repos.events.markFailed(eventId, outcome.reason);
    throw new UpstreamError(outcome.reason);
  }
  await d.repos.events.markDelivered(eventId);
  return 'delivered';
}

/** One delivery as every event goes out: JSON, Standard Webhooks headers, the deprecated x-bridge-signature. */
function signedDelivery(url: string, secret: string, id: string, kind: string, timestamp: number, body: string): WebhookDelivery {
  return {
    url,
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': standardSignature(secret, id, timestamp, body),
      'x-bridge-event': kind,
      'x-bridge-delivery': id,
      'x-bridge-signature': signature(secret, body),
    },
  };
}

/** What a test delivery came to: the receiver's HTTP status, or why it was not delivered, in words. */
export type TestDeliveryResult = { delivered: true; status: number | null; eventId: string } | { delivered: false; error: string; eventId: string };

/**
 * Sends a signed `test` event to the collection's webhook, through the same
 * sender (and so the same outbound checks) as real events, and says what
 * happened. Not recorded as an event: nothing happened to the collection.
 */
export async function sendTestEvent(
  d: { webhooks: WebhookSender; clock?: Clock },
  c: Pick<Collection, 'id' | 'name' | 'webhook_url' | 'webhook_secret'>,
  by: string,
): Promise<TestDeliveryResult> {
  if (!c.webhook_url || !c.webhook_secret) throw new ValidationError('this collection has no webhook: set one first', { field: 'url' });
  const now = (d.clock ?? systemClock).now();
  const id = `test-${randomUUID()}`;
  const body = JSON.stringify({ id, kind: 'test', collection: { id: c.id, name: c.name }, at: now.toISOString(), data: { message: 'a test event sent from the bridge; nothing happened to the collection', by } });
  const outcome = await d.webhooks.send(signedDelivery(c.webhook_url, c.webhook_secret, id, 'test', Math.floor(now.getTime() / 1000), body));
  return outcome.delivered ? { delivered: true, status: outcome.status ?? null, eventId: id } : { delivered: false, error: outcome.reason, eventId: id };
}
