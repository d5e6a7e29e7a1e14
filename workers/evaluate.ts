import { applyPolicy } from '../src/domain/review.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** Applies the data-rights policy to a collection's images that have no verdict yet. */
export function evaluateHandler(h: HandlerDeps): Handler<'evaluate'> {
  return async ({ collectionId }) => {
    const r = await applyPolicy(h.review, collectionId).catch(permanent);
    await notifyPending(h);
    return r;
  };
}
