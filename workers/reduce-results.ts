import { LockBusyError } from '../src/domain/ports/lock.js';
import { reduceCollection } from '../src/domain/results-reduce.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';
import { notifyPending } from './notify.js';

/** How long a reduction waits when another run of the same collection holds it. */
const BUSY_RETRY_MS = 5_000;

/** Reduces what arrived for a collection since its last run; then its results rules look at the changed subjects. */
export function reduceResultsHandler(h: HandlerDeps): Handler<'reduceResults'> {
  return async ({ collectionId }) => {
    let r;
    try {
      r = await h.release.lock.withLock(`results-reduce-${collectionId}`, () => reduceCollection({ repos: h.repos, settingsFor: h.reduceSettings ?? (async () => null), log: h.release.log }, collectionId));
    } catch (e) {
      if (e instanceof LockBusyError) {
        // The running one may have read its last chunk already: look again shortly.
        await h.queues.addLater('reduceResults', { collectionId }, BUSY_RETRY_MS);
        return { busy: true };
      }
      return permanent(e);
    }
    if (r.subjects > 0) {
      await h.queues.addLater('applyResultRules', { collectionId }, 0);
      // results_updated goes to the PI's webhook like every other event.
      await notifyPending(h);
    }
    return r;
  };
}
