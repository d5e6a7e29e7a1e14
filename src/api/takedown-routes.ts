import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import { requestTakedown } from '../domain/takedown-request.js';
import type { TakedownDeps } from '../domain/takedown.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();
const body = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('images'), imageIds: z.array(uuid).min(1).max(500), reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('batch'), uploadBatchId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('collection'), collectionId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
]);

export function takedownRoutes(d: { repos: Repositories; takedown: TakedownDeps; queues: JobQueue }): Router {
  const r = Router();
  r.post('/retractions', requireRole('pi'), async (req, res) => {
    const b = body.parse(req.body);
    res.json({ results: await requestTakedown({ repos: d.repos, takedown: d.takedown, polls: d.queues }, req.identity!, b) });
  });
  return r;
}
