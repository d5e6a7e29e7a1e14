import { planUploadBatches, writeManifests } from '../src/domain/manifest.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** Groups a collection's published images into upload batches and writes each batch's manifest. */
export function manifestHandler(h: HandlerDeps): Handler<'manifest'> {
  return async ({ collectionId }) => {
    const d = { repos: h.repos, store: h.pipeline.store };
    await planUploadBatches(d, collectionId);
    const pending = await h.repos.uploadBatches.awaitingManifest(collectionId);
    for (const id of pending) await writeManifests(d, id).catch(permanent);
    await notifyPending(h);
    return { manifested: pending.length };
  };
}
