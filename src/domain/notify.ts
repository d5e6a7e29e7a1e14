import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Tx } from '../db/repositories/transitions.js';
import type { Logger } from './ports.js';
import { UpstreamError } from './errors.js';

/**
 * Notifications: every event a PI may care about (a batch quarantined,
 * approved, published, uploaded, failed, retracted) is a row in `events`
 * first, so nothing is lost; delivery to the collection's webhook is a
 * retried job that marks the row delivered. The body is JSON signed with
 * HMAC-SHA256 over the exact bytes, under the collection's own secret.
 */
export type EventKind = 'batch_quarantined' | 'images_approved' | 'images_rejected' | 'batch_published' | 'batch_uploaded' | 'batch_failed' | 'batch_blocked' | 'batch_waiting' | 'batch_retracted' | 'images_retracted';

export async function recordEvent(tx: Tx, collectionId: string, kind: EventKind, payload: Record<string, unknown>): Promise<void> {
  await tx.insertInto('events').values({ collection_id: collectionId, kind, payload: JSON.stringify(payload) }).execute();
}

/** A new webhook secret, shown to the PI once. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Events waiting for delivery to a configured webhook, oldest first. */
export async function undelivered(db: Db, limit = 500): Promise<string[]> {
  const rows = await db
    .selectFrom('events')
    .innerJoin('collections', 'collections.id', 'events.collection_id')
    .select('events.id')
    .where('events.delivered_at', 'is', null)
    .where('collections.webhook_url', 'is not', null)
    .where('events.delivery_attempts', '<', 20)
    .orderBy('events.id')
    .limit(limit)
    .execute();
  return rows.map((r) => String(r.id));
}

/**
 * POSTs one event. 2xx marks it delivered; anything else is recorded on the
 * row and thrown as retryable. Redirects are not followed (the URL is the
 * PI's, and a redirect could point anywhere).
 */
export async function deliverEvent(d: { db: Db; log: Logger; fetch?: typeof fetch; timeoutMs?: number }, eventId: string): Promise<'delivered' | 'skipped'> {
  const e = await d.db
    .selectFrom('events')
    .innerJoin('collections', 'collections.id', 'events.collection_id')
    .select(['events.id', 'events.kind', 'events.payload', 'events.created_at', 'events.delivered_at', 'collections.id as collection_id', 'collections.name', 'collections.webhook_url', 'collections.webhook_secret'])
    .where('events.id', '=', eventId)
    .executeTakeFirst();
  if (!e || e.delivered_at || !e.webhook_url || !e.webhook_secret) return 'skipped';
  const body = JSON.stringify({ id: String(e.id), kind: e.kind, collection: { id: e.collection_id, name: e.name }, at: new Date(e.created_at).toISOString(), data: e.payload });
  let failure: string | undefined;
  try {
    const res = await (d.fetch ?? fetch)(e.webhook_url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(d.timeoutMs ?? 10_000),
      headers: { 'content-type': 'application/json', 'x-bridge-event': e.kind, 'x-bridge-delivery': String(e.id), 'x-bridge-signature': signature(e.webhook_secret, body) },
      body,
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) failure = `the webhook answered HTTP ${res.status}`;
  } catch (err) {
    failure = `the webhook could not be reached (${(err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message})`;
  }
  if (failure) {
    await d.db.updateTable('events').set((eb) => ({ delivery_attempts: eb('delivery_attempts', '+', 1), delivery_error: failure })).where('id', '=', eventId).execute();
    throw new UpstreamError(failure);
  }
  await d.db.updateTable('events').set((eb) => ({ delivered_at: new Date(), delivery_attempts: eb('delivery_attempts', '+', 1), delivery_error: null })).where('id', '=', eventId).execute();
  return 'delivered';
}
