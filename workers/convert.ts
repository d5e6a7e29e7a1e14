import { convertGroup } from '../src/domain/pipeline.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Converts a group of bands into quarantined images, then asks for the policy's verdict on them. */
export function convertHandler(h: HandlerDeps): Handler<'convert'> {
  return async ({ collectionId, groupKey }) => {
    const r = await convertGroup(h.pipeline, collectionId, groupKey).catch(permanent);
    if (r.images) await h.queues.add('evaluate', { collectionId, after: groupKey });
    return r;
  };
}
