import { Router } from 'express';
import { z } from 'zod';
import { changeableCollection } from '../domain/collections.js';
import { overrideRelease, setPanelApproval, setPublishDelay, type FactChangeDeps } from '../domain/collection-settings.js';
import { delegate, listDelegations, revokeDelegation } from '../domain/delegations.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();
const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be an RSP username');

/**
 * What only admins do: record a collection's Data Rights Panel approval
 * (a policy fact), and delegate collection prefixes outside u/<own name>/ to
 * a PI. Both are audited. (Project bindings: project-binding-routes.ts.)
 */
export function adminRoutes(d: FactChangeDeps): Router {
  const r = Router();

  r.post('/collections/:id/panel-approval', requireRole('admin'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const b = z.object({ panelApproval: z.enum(['none', 'approved']), reason: z.string().trim().min(1, 'say which panel decision this records').max(2000) }).strict().parse(req.body);
    const { reopened } = await setPanelApproval(d, req.identity!, c, b.panelApproval, b.reason);
    res.json({ id: c.id, panelApproval: b.panelApproval, reopened });
  });

  r.post('/collections/:id/release', requireRole('admin'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const b = z
      .object({
        release: z.string().regex(/^[a-z0-9._-]{1,40}$/, 'must be a lower-case release name such as dp1, dr1 or prompt'),
        proprietary: z.boolean(),
        embargoHours: z.number().min(0).max(100_000),
        reason: z.string().trim().min(1, 'say why the mapping does not fit this collection').max(2000),
      })
      .strict()
      .parse(req.body);
    const { collection: saved, reopened } = await overrideRelease(d, req.identity!, c, b, b.reason);
    res.json({ id: saved.id, dataRelease: saved.data_release, releaseSource: saved.release_source, proprietary: saved.release_proprietary, embargoHours: saved.release_embargo_hours, reopened });
  });

  r.put('/collections/:id/publish-delay', requireRole('admin'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const b = z
      .object({ seconds: z.number().int().min(0).max(7 * 86_400).nullable(), reason: z.string().trim().min(1, 'say why this collection needs its own publishing delay').max(2000) })
      .strict()
      .parse(req.body);
    const saved = await setPublishDelay(d.repos, req.identity!, c, b.seconds, b.reason);
    res.json({ id: saved.id, publishDelaySeconds: saved.publish_delay_seconds });
  });

  r.get('/delegations', requireRole('admin'), async (req, res) => {
    const rows = await listDelegations(d.repos, req.identity!);
    res.json({ items: rows.map((x) => ({ id: x.id, username: x.username, prefix: x.prefix, grantedBy: x.granted_by, createdAt: x.created_at })) });
  });

  r.post('/delegations', requireRole('admin'), async (req, res) => {
    const b = z
      .object({ username, prefix: z.string().regex(/^u\/[a-z0-9._-]+\/([A-Za-z0-9._/-]*\/)?$/, 'must be a collection prefix u/<name>/... ending in /') })
      .strict()
      .parse(req.body);
    const row = await delegate(d.repos, req.identity!, b.username, b.prefix);
    res.status(201).json({ id: row.id, username: row.username, prefix: row.prefix, grantedBy: row.granted_by });
  });

  r.delete('/delegations/:id', requireRole('admin'), async (req, res) => {
    await revokeDelegation(d.repos, req.identity!, uuid.parse(req.params.id));
    res.status(204).end();
  });

  return r;
}
