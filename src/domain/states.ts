import { IllegalTransitionError } from './errors.js';

/**
 * The life of an artifact (a retrieved FITS file) and of an image (one
 * converted stamp group). Every change goes through `assertTransition`, and
 * the repository records it with time and actor.
 *
 *   artifact: discovered -> retrieved -> converted      (any -> failed; failed -> discovered on retry)
 *   image:    quarantined -> approved | rejected -> published -> uploaded -> retracted
 */
export const ARTIFACT_TRANSITIONS: Record<string, readonly string[]> = {
  discovered: ['retrieved', 'failed'],
  retrieved: ['converted', 'failed'],
  converted: [],
  failed: ['discovered'],
};

export const IMAGE_TRANSITIONS: Record<string, readonly string[]> = {
  quarantined: ['approved', 'rejected'],
  approved: ['published', 'quarantined', 'rejected'],
  rejected: ['quarantined'],
  published: ['uploaded', 'retracted'],
  uploaded: ['retracted'],
  retracted: [],
  failed: [],
};

export const COLLECTION_TRANSITIONS: Record<string, readonly string[]> = {
  active: ['paused', 'retired'],
  paused: ['active', 'retired'],
  retired: [],
};

const TABLES = { artifact: ARTIFACT_TRANSITIONS, image: IMAGE_TRANSITIONS, collection: COLLECTION_TRANSITIONS } as const;

export function assertTransition(entity: keyof typeof TABLES, from: string, to: string): void {
  if (!TABLES[entity][from]?.includes(to)) {
    throw new IllegalTransitionError(`${entity} cannot go from ${from} to ${to}`, { entity, from, to });
  }
}
