import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import type { Clock } from '../domain/ports/clock.js';
import { changeableCollection, visibleCollection } from '../domain/collections.js';
import { failuresOf, retryArtifacts, retryUploadBatch, retryUploadBatches } from '../domain/retry.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();

/**
 * Taking stopped work back up (owners and admins), and seeing what stopped
 * (whoever may see the collection): failed artifacts, failed, blocked or
 * waiting upload batches. Every retry is audited.
 */
export function retryRoutes(d: { repos: Repositories; queues: Pick<JobQueue, 'add'>; clock: Clock }): Router {
  const r = Router();

  r.get('/collections/:id/failures', requireRole('pi'), async (req, res) => {
    const c = await visibleCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const f = await failuresOf(d.repos, c);
    res.json({
      artifacts: f.artifacts.map((a) => ({ id: a.id, datasetId: a.dataset_id, datasetType: a.dataset_type, run: a.run, dataId: a.data_id, band: a.band, file: a.path, error: a.error, attempts: a.attempts, at: a.updated_at })),
      batches: f.batches.map((b) => ({ id: b.id, seq: b.seq, state: b.state, mode: b.mode, error: b.error, at: b.updated_at })),
      stamps: f.stamps.map((s) => ({ imageId: s.image_id, groupKey: s.group_key, stamp: s.stamp_index, datasetIds: s.dataset_ids, error: s.error, at: s.at })),
      moreStamps: f.more_stamps,
    });
  });

  r.post('/collections/:id/batches/retry', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    res.json({ items: await retryUploadBatches(d, req.identity!, c) });
  });

  r.post('/collections/:id/batches/:batchId/retry', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    res.json(await retryUploadBatch(d, req.identity!, c, uuid.parse(req.params.batchId)));
  });

  r.post('/collections/:id/artifacts/retry', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    res.json({ items: await retryArtifacts(d, req.identity!, c) });
  });

  r.post('/collections/:id/artifacts/:artifactId/retry', requireRole('pi'), async (req, res) => {
    const c = await changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    res.json({ items: await retryArtifacts(d, req.identity!, c, uuid.parse(req.params.artifactId)) });
  });

  return r;
}
