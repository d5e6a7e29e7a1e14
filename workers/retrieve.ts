import { failArtifact, retrieveArtifact } from '../src/domain/pipeline.js';
import { NotFoundError, UpstreamRefusedError } from '../src/domain/errors.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Fetches one artifact; when it completes a group of bands, queues the group's conversion. */
export function retrieveHandler(h: HandlerDeps): Handler<'retrieve'> {
  return async ({ artifactId }, ctx) => {
    try {
      const { readyGroup } = await retrieveArtifact(h.pipeline, artifactId);
      if (readyGroup) await h.queues.add('convert', readyGroup);
      return { ready: !!readyGroup };
    } catch (e) {
      const last = ctx.attemptsMade + 1 >= ctx.maxAttempts;
      const refused = e instanceof UpstreamRefusedError || e instanceof NotFoundError;
      // The artifact records why, so the PI sees it without reading logs.
      if (refused || last) await failArtifact(h.pipeline, artifactId, (e as Error).message, 'retriever');
      return permanent(e);
    }
  };
}
