import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { PanoptesClient } from '../domain/panoptes-port.js';
import type { Logger, ObjectStore } from '../domain/ports.js';
import { requestTakedown } from '../domain/takedown-request.js';
import type { JobQueues } from '../jobs/queues.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();
const body = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('images'), imageIds: z.array(uuid).min(1).max(500), reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('batch'), uploadBatchId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('collection'), collectionId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
]);

export function takedownRoutes(d: { db: Db; repos: Repositories; store: ObjectStore; log: Logger; panoptes?: PanoptesClient; queues: JobQueues }): Router {
  const r = Router();
  r.post('/retractions', requireRole('pi'), async (req, res) => {
    const b = body.parse(req.body);
    // The takedown itself still works on the database handle (domain/takedown.ts).
    const takedown = { db: d.db, store: d.store, log: d.log, panoptes: d.panoptes };
    res.json({ results: await requestTakedown({ repos: d.repos, takedown, polls: d.queues }, req.identity!, b) });
  });
  return r;
}
