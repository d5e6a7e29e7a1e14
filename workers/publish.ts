import { publishImage } from '../src/domain/publish.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Copies one approved image to the public store. */
export function publishHandler(h: HandlerDeps): Handler<'publish'> {
  return async ({ imageId }) => {
    return publishImage({ repos: h.repos, store: h.pipeline.store }, imageId).catch(permanent);
  };
}
