import { pollCollection } from '../src/domain/pipeline.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/** Finds a collection's new datasets and queues their retrieval. */
export function pollHandler(h: HandlerDeps): Handler<'poll'> {
  return async ({ collectionId }) => {
    const { newArtifactIds } = await pollCollection(h.pipeline, collectionId).catch(permanent);
    for (const artifactId of newArtifactIds) await h.queues.add('retrieve', { artifactId });
    return { new: newArtifactIds.length };
  };
}
