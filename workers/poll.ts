import { pollCollection } from '../src/domain/pipeline.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/**
 * Retrievals queued at once: their Redis round trips overlap, so a first
 * poll that finds 100,000 datasets queues them in seconds, not one round
 * trip after another. In listing order, a slice at a time, so the bands of
 * a group stay close together in the queue.
 */
const QUEUED_AT_ONCE = 64;

/** Finds a collection's new datasets and queues their retrieval. */
export function pollHandler(h: HandlerDeps): Handler<'poll'> {
  return async ({ collectionId }) => {
    const { newArtifactIds } = await pollCollection(h.pipeline, collectionId).catch(permanent);
    for (let i = 0; i < newArtifactIds.length; i += QUEUED_AT_ONCE) {
      await Promise.all(newArtifactIds.slice(i, i + QUEUED_AT_ONCE).map((artifactId) => h.queues.add('retrieve', { artifactId })));
    }
    return { new: newArtifactIds.length };
  };
}
