import { UpstreamRefusedError } from '../src/domain/errors.js';
import { giveUpUploads, uploadCollection } from '../src/domain/release.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** Uploads a collection's manifested batches to Zooniverse; on the last attempt, records on the batches why it gave up. */
export function uploadHandler(h: HandlerDeps): Handler<'upload'> {
  return async ({ collectionId }, ctx) => {
    try {
      return await uploadCollection(h.release, collectionId);
    } catch (e) {
      if (ctx.attemptsMade + 1 >= ctx.maxAttempts && !(e instanceof UpstreamRefusedError)) {
        await giveUpUploads(h.release, collectionId, `gave up after ${ctx.maxAttempts} attempts: ${(e as Error).message}`);
      }
      return permanent(e);
    } finally {
      await notifyPending(h);
    }
  };
}
