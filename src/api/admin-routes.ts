import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { getCollection } from '../db/repositories/collections.js';
import { appendAudit } from '../db/repositories/audit.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();
const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be an RSP username');

/**
 * What only admins do: record a collection's Data Rights Panel approval
 * (a policy fact), and delegate collection prefixes outside u/<own name>/ to
 * a PI. Both are audited.
 */
export function adminRoutes(d: { db: Db }): Router {
  const r = Router();

  r.post('/collections/:id/panel-approval', requireRole('admin'), async (req, res) => {
    const c = await getCollection(d.db, uuid.parse(req.params.id));
    const b = z.object({ panelApproval: z.enum(['none', 'approved']), reason: z.string().trim().min(1, 'say which panel decision this records').max(2000) }).strict().parse(req.body);
    await d.db.transaction().execute(async (tx) => {
      await tx.updateTable('collections').set({ panel_approval: b.panelApproval, updated_at: new Date() }).where('id', '=', c.id).execute();
      await appendAudit(tx, [{ actor: req.identity!.username, action: 'panel_approval', entity: 'collection', entityId: c.id, collectionId: c.id, reason: b.reason, detail: { from: c.panel_approval, to: b.panelApproval } }]);
    });
    res.json({ id: c.id, panelApproval: b.panelApproval });
  });

  r.get('/delegations', requireRole('admin'), async (_req, res) => {
    const rows = await d.db.selectFrom('delegations').selectAll().orderBy('created_at').execute();
    res.json({ items: rows.map((x) => ({ id: x.id, username: x.username, prefix: x.prefix, grantedBy: x.granted_by, createdAt: x.created_at })) });
  });

  r.post('/delegations', requireRole('admin'), async (req, res) => {
    const b = z
      .object({ username, prefix: z.string().regex(/^u\/[a-z0-9._-]+\/([A-Za-z0-9._/-]*\/)?$/, 'must be a collection prefix u/<name>/... ending in /') })
      .strict()
      .parse(req.body);
    const row = await d.db
      .insertInto('delegations')
      .values({ username: b.username, prefix: b.prefix, granted_by: req.identity!.username })
      .onConflict((oc) => oc.columns(['username', 'prefix']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new ConflictError(`${b.username} already has ${b.prefix}`);
    await appendAudit(d.db, [{ actor: req.identity!.username, action: 'delegate', entity: 'collection', entityId: row.id, collectionId: null, detail: { username: b.username, prefix: b.prefix } }]);
    res.status(201).json({ id: row.id, username: row.username, prefix: row.prefix, grantedBy: row.granted_by });
  });

  r.delete('/delegations/:id', requireRole('admin'), async (req, res) => {
    const id = uuid.parse(req.params.id);
    const row = await d.db.deleteFrom('delegations').where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) throw new NotFoundError(`delegation ${id} not found`);
    await appendAudit(d.db, [{ actor: req.identity!.username, action: 'undelegate', entity: 'collection', entityId: row.id, collectionId: null, detail: { username: row.username, prefix: row.prefix } }]);
    res.status(204).end();
  });

  return r;
}
