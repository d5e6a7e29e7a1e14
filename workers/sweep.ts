import { systemClock } from '../src/domain/ports/clock.js';
import { sweep } from '../src/domain/sweep.js';
import type { Handler, HandlerDeps } from './handler.js';
import { notifyPending } from './notify.js';

/** Re-queues work the database says is unfinished and untouched for a while (see domain/sweep.ts). */
export function sweepHandler(h: HandlerDeps): Handler<'sweep'> {
  return async () => {
    const r = await sweep({ repos: h.repos, store: h.pipeline.store, queues: h.queues, clock: systemClock, lostAfterMs: h.sweepAgeMs, uploading: !!h.release.panoptes });
    await notifyPending(h);
    return r;
  };
}
