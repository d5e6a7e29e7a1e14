import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { getCollection } from '../db/repositories/collections.js';
import type { PanoptesClient } from '../domain/panoptes-port.js';
import type { Logger, ObjectStore } from '../domain/ports.js';
import type { Lock } from '../domain/ports/lock.js';
import type { Repositories } from '../domain/ports/repositories.js';
import { ForbiddenError, NotFoundError } from '../domain/errors.js';
import { retractCollection, retractImages, retractUploadBatch } from '../domain/takedown.js';
import { recordEvent } from '../domain/notify.js';
import type { JobQueues } from '../jobs/queues.js';
import { requireRole, type Identity } from './auth.js';

const uuid = z.string().uuid();
const body = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('images'), imageIds: z.array(uuid).min(1).max(500), reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('batch'), uploadBatchId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
  z.object({ scope: z.literal('collection'), collectionId: uuid, reason: z.string().trim().min(1, 'say why').max(2000) }).strict(),
]);

/** The owner (their data, their request), EPO reviewers and admins may take released images down. */
function mayTakeDown(who: Identity, owner: string): boolean {
  return owner === who.username || who.roles.includes('reviewer') || who.roles.includes('admin');
}

export function takedownRoutes(d: { db: Db; repos: Repositories; lock: Lock; store: ObjectStore; log: Logger; panoptes?: PanoptesClient; queues: JobQueues }): Router {
  const r = Router();
  r.post('/retractions', requireRole('pi'), async (req, res) => {
    const b = body.parse(req.body);
    const who = req.identity!;
    const deps = { repos: d.repos, lock: d.lock, store: d.store, log: d.log, panoptes: d.panoptes };
    let collectionIds: string[];
    if (b.scope === 'images') {
      const rows = await d.db.selectFrom('images').select(['id', 'collection_id']).where('id', 'in', b.imageIds).execute();
      if (rows.length !== new Set(b.imageIds).size) throw new NotFoundError('some of these images do not exist', { field: 'imageIds' });
      collectionIds = [...new Set(rows.map((x) => x.collection_id))];
    } else if (b.scope === 'batch') {
      const batch = await d.db.selectFrom('upload_batches').select('collection_id').where('id', '=', b.uploadBatchId).executeTakeFirst();
      if (!batch) throw new NotFoundError(`upload batch ${b.uploadBatchId} not found`, { field: 'uploadBatchId' });
      collectionIds = [batch.collection_id];
    } else collectionIds = [b.collectionId];
    for (const id of collectionIds) {
      const c = await getCollection(d.db, id);
      if (!mayTakeDown(who, c.owner)) throw new ForbiddenError(`only the owner of ${c.name}, EPO reviewers or admins can take its images down`);
    }
    const results =
      b.scope === 'images'
        ? await retractImages(deps, [...new Set(b.imageIds)], who.username, b.reason)
        : b.scope === 'batch'
          ? await retractUploadBatch(deps, b.uploadBatchId, who.username, b.reason)
          : await retractCollection(deps, b.collectionId, who.username, b.reason);
    if (b.scope === 'collection') await d.queues.unschedulePoll(b.collectionId);
    const gone = results.filter((x) => x.ok).map((x) => x.imageId);
    if (gone.length) {
      const rows = await d.db.selectFrom('images').select(['id', 'collection_id']).where('id', 'in', gone).execute();
      for (const cid of new Set(rows.map((x) => x.collection_id))) await recordEvent(d.db, cid, 'images_retracted', { imageIds: rows.filter((x) => x.collection_id === cid).map((x) => x.id), by: who.username, reason: b.reason });
    }
    res.json({ results });
  });
  return r;
}
