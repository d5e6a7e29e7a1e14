import { applyPolicy } from '../src/domain/review.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** Applies the data-rights policy to a collection's images that have no verdict yet. */
export function evaluateHandler(h: HandlerDeps): Handler<'evaluate'> {
  return async ({ collectionId }) => {
    const r = await applyPolicy(h.review, collectionId).catch(permanent);
    // What the policy approved on its own goes out now, not a sweep later; if
    // queueing fails, the sweep still finds these images approved and unreleased.
    if (r.autoApprovedIds.length) await h.queues.release(collectionId, r.autoApprovedIds);
    await notifyPending(h);
    return r;
  };
}
