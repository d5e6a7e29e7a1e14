import { UpstreamRefusedError } from '../src/domain/errors.js';
import { systemClock } from '../src/domain/ports/clock.js';
import { LockBusyError } from '../src/domain/ports/lock.js';
import { pullProject } from '../src/domain/results-pull.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Pages per pull job: a bounded amount of work, then the next job carries on. */
export const PULL_MAX_PAGES = 50;

/**
 * Pulls a project's new classifications (one run per project at a time);
 * queues the reduction of every collection that got rows, and the next
 * pull when it stopped at its page limit.
 */
export function pullClassificationsHandler(h: HandlerDeps): Handler<'pullClassifications'> {
  return async ({ projectId }) => {
    const source = h.classificationSource;
    if (!source) return permanent(new UpstreamRefusedError('Zooniverse credentials are not configured, so classifications cannot be pulled'));
    let r;
    try {
      r = await h.release.lock.withLock(`results-pull-${projectId}`, () => pullProject({ repos: h.repos, source, clock: systemClock, log: h.release.log }, projectId, { maxPages: PULL_MAX_PAGES }));
    } catch (e) {
      if (e instanceof LockBusyError) return { busy: true };
      return permanent(e);
    }
    // addLater, not add: a reduction of the collection still running would swallow an add with its own job id.
    for (const collectionId of r.collections) await h.queues.addLater('reduceResults', { collectionId }, 0);
    if (r.more) await h.queues.addLater('pullClassifications', { projectId }, 0);
    return { pages: r.pages, kept: r.kept, ignored: r.ignored, more: r.more };
  };
}
