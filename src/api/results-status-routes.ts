import { Router } from 'express';
import { z } from 'zod';
import { changeableCollection } from '../domain/collections.js';
import { UpstreamRefusedError } from '../domain/errors.js';
import type { ClassificationSource } from '../domain/ports/classification-source.js';
import type { Clock } from '../domain/ports/clock.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { Logger } from '../domain/ports/logger.js';
import { EXPORT_RECHECK_MS, requestBackfill, resultsStatus } from '../domain/results-backfill.js';
import { resultsCollection } from '../domain/results-table.js';
import { requestRecompute } from '../domain/results-recompute.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();

/**
 * Where a collection's results come from (issue 14): the pull's cursor and
 * last error, the export backfill's state and when the next export is
 * possible, and how far the reduction is (owner, delegates, admins: the
 * same people who may read the results); and asking for an export backfill
 * (owner or admin): 202 with the state, or 409 naming when Panoptes allows
 * the next export (one a day; a request inside that window would be
 * silently cancelled, so none is sent); and asking for the reductions to be
 * rebuilt from every stored classification (owner or admin, audited).
 */
export function resultsStatusRoutes(d: { repos: Repositories; queues: Pick<JobQueue, 'add' | 'addLater'>; source?: ClassificationSource; clock: Clock; log: Logger }): Router {
  const r = Router();

  r.get('/collections/:id/results/status', requireRole('pi', 'admin'), async (req, res) => {
    const c = await resultsCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    res.json({ ...(await resultsStatus(d.repos, c, d.clock)), pulling: !!d.source });
  });

  r.post('/collections/:id/results/backfill', requireRole('pi', 'admin'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can ask for an export backfill');
    if (!d.source) throw new UpstreamRefusedError('Zooniverse credentials are not configured, so no export can be requested');
    const a = await requestBackfill({ repos: d.repos, source: d.source, clock: d.clock, log: d.log }, c);
    // Ready: load it now; otherwise look again when Panoptes has had time to build it.
    await d.queues.addLater('backfillExport', { projectId: a.projectId }, a.state === 'ready' ? 0 : EXPORT_RECHECK_MS);
    res.status(202).json(a);
  });

  r.post('/collections/:id/results/recompute', requireRole('pi', 'admin'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can ask for the results to be recomputed');
    await requestRecompute({ repos: d.repos, queues: d.queues }, req.identity!.username, c);
    res.status(202).json({ collectionId: c.id, message: 'The reductions are rebuilt from every stored classification by the next reduction run (started now); the results keep their current values until it finishes.' });
  });

  return r;
}
