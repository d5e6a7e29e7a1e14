import { planUploadBatches, writeManifests } from '../src/domain/manifest.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** Groups a collection's published images into upload batches and writes each batch's manifest. */
export function manifestHandler(h: HandlerDeps): Handler<'manifest'> {
  return async ({ collectionId }) => {
    const { db, store } = h.pipeline;
    await planUploadBatches({ db }, collectionId);
    // Still inline SQL: it moves into db/repositories with the rest of the handlers' queries.
    const pending = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', collectionId).where('state', '=', 'publishing').orderBy('seq').execute();
    for (const b of pending) await writeManifests({ db, store }, b.id).catch(permanent);
    await notifyPending(h);
    return { manifested: pending.length };
  };
}
