import { pollCollection } from '../src/domain/pipeline.js';
import type { Handler, HandlerDeps } from './handler.js';
import { permanent } from './permanent.js';

/**
 * Retrievals queued per round trip (one pipelined bulk add): a first poll
 * that finds 100,000 datasets queues them in a hundred round trips, not
 * 100,000. Bounded so one request to Redis stays small. In listing order,
 * so the bands of a group stay close together in the queue.
 */
const QUEUED_AT_ONCE = 1000;

/** Finds a collection's new datasets and queues their retrieval. */
export function pollHandler(h: HandlerDeps): Handler<'poll'> {
  return async ({ collectionId }) => {
    const { newArtifactIds } = await pollCollection(h.pipeline, collectionId).catch(permanent);
    for (let i = 0; i < newArtifactIds.length; i += QUEUED_AT_ONCE) {
      await h.queues.addBulk('retrieve', newArtifactIds.slice(i, i + QUEUED_AT_ONCE).map((artifactId) => ({ artifactId })));
    }
    return { new: newArtifactIds.length };
  };
}
