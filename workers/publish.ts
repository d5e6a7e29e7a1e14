import { publishImage } from '../src/domain/publish.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Copies one approved image to the public store (once its publishing delay is over; earlier, it is retried when it ends). */
export function publishHandler(h: HandlerDeps): Handler<'publish'> {
  return async ({ imageId }) => {
    return publishImage({ repos: h.repos, store: h.pipeline.store, clock: h.review.clock }, imageId).catch(permanent);
  };
}
