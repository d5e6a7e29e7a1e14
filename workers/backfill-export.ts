import { UpstreamRefusedError } from '../src/domain/errors.js';
import { systemClock } from '../src/domain/ports/clock.js';
import { LockBusyError } from '../src/domain/ports/lock.js';
import { runBackfill } from '../src/domain/results-backfill.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/**
 * Loads a project's classification export once it is ready: while Panoptes
 * builds it the job queues itself again later; a failed load (a cut
 * download) throws and is retried, counting nothing twice.
 */
export function backfillExportHandler(h: HandlerDeps): Handler<'backfillExport'> {
  return async ({ projectId }) => {
    const source = h.classificationSource;
    if (!source) return permanent(new UpstreamRefusedError('Zooniverse credentials are not configured, so no export can be loaded'));
    let r;
    try {
      r = await h.release.lock.withLock(`results-backfill-${projectId}`, () => runBackfill({ repos: h.repos, source, clock: systemClock, log: h.release.log }, projectId));
    } catch (e) {
      if (e instanceof LockBusyError) return { busy: true };
      return permanent(e);
    }
    if (r.againInMs !== undefined) await h.queues.addLater('backfillExport', { projectId }, r.againInMs);
    for (const collectionId of r.collections) await h.queues.addLater('reduceResults', { collectionId }, 0);
    return { state: r.state, rows: r.rows, kept: r.kept, ignored: r.ignored };
  };
}
