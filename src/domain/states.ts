import { IllegalTransitionError } from './errors.js';

/**
 * The life of an artifact (a retrieved FITS file) and of an image (one
 * converted stamp group). Every change goes through `assertTransition`, and
 * the repository records it with time and actor.
 *
 *   artifact: discovered -> retrieved -> converted      (any -> failed; failed -> discovered on retry)
 *   image:    quarantined -> approved | rejected -> published -> uploaded -> retracted
 *             (approved, rejected by the policy, and published not yet uploaded may return to quarantine: reevaluation.ts, metadata-recheck.ts)
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
  // Back to review when the PI changes its extra metadata before it is in an upload batch (metadata-recheck.ts).
  published: ['uploaded', 'retracted', 'quarantined'],
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
