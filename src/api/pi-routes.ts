import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import type { ObjectStore } from '../domain/ports/object-store.js';
import type { WebhookSender } from '../domain/ports/webhook-sender.js';
import type { Clock } from '../domain/ports/clock.js';
import { changeableCollection } from '../domain/collections.js';
import { sendTestEvent } from '../domain/notify.js';
import { writeExport } from '../domain/export.js';
import { ValidationError } from '../domain/errors.js';
import { requireRole } from './auth.js';

export interface PiRoutesDeps {
  repos: Repositories;
  store: ObjectStore;
  /** The sender real events go through (the same outbound checks); absent: the test event says it cannot be sent. */
  webhooks?: WebhookSender;
  clock: Clock;
}

const uuid = z.string().uuid();
const eventsQuery = z.object({ before: z.string().regex(/^\d{1,18}$/).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });

/**
 * What the PI page needs besides the collection routes: a test event through
 * the webhook, the export zip as a download, and the user's own events
 * across their collections.
 */
export function piRoutes(d: PiRoutesDeps): Router {
  const r = Router();

  r.post('/collections/:id/webhook/test', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can test the webhook');
    if (!d.webhooks) throw new ValidationError('this bridge process cannot send webhooks');
    res.json(await sendTestEvent({ webhooks: d.webhooks, clock: d.clock }, c, req.identity!.username));
  });

  r.get('/collections/:id/export', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can export a collection');
    const file = `${c.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '')}-export.zip`;
    try {
      await writeExport({ repos: d.repos, store: d.store }, c.id, res, {
        onStart: () => {
          res.status(200).type('application/zip').setHeader('Content-Disposition', `attachment; filename="${file}"`);
          res.setHeader('Cache-Control', 'no-store');
        },
      });
    } catch (e) {
      // Before the first byte the error is an answer; after it the download is cut short.
      if (!res.headersSent) {
        res.removeHeader('Content-Disposition');
        throw e;
      }
      res.destroy(e as Error);
    }
  });

  r.get('/me/events', requireRole('pi'), async (req, res) => {
    const q = eventsQuery.parse(req.query);
    const rows = await d.repos.events.listForOwner(req.identity!.username, { before: q.before, limit: q.limit + 1 });
    const items = rows.slice(0, q.limit);
    res.json({
      items: items.map((e) => ({ id: String(e.id), kind: e.kind, at: e.created_at, collectionId: e.collection_id, collectionName: e.collection_name, data: e.payload, deliveredAt: e.delivered_at, deliveryError: e.delivery_error })),
      next: rows.length > q.limit ? String(items[items.length - 1].id) : null,
    });
  });

  return r;
}
