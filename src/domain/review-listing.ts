import type { AuditEntry, ImageFrame } from './model.js';
import type { ReviewImage, ReviewImageFilter } from './ports/images-repository.js';
import type { Page, Repositories } from './ports/repositories.js';
import { overseesAll, type Caller } from './caller.js';
import { visibleCollection } from './collections.js';

/**
 * What the review page shows: the images a caller may see, each with its
 * per-band frames, the last decision about it (the policy's or a
 * reviewer's), and whether this caller may decide on it.
 */
/** The listing's filters as a caller gives them; whose collections they cover is decided here, not asked. */
export type ReviewFilter = Omit<ReviewImageFilter, 'owner'>;

export type LastDecision = Pick<AuditEntry, 'action' | 'actor' | 'at' | 'reason'>;

export interface ReviewCard {
  image: ReviewImage;
  /** Reviewers approve the whole subject: the per-band frames volunteers will flip through too. */
  frames: ImageFrame[];
  lastDecision: LastDecision | null;
  canDecide: boolean;
}

/** The audit actions that decide an image's fate, as the card shows the latest. */
const DECISIONS = ['approve', 'reject', 'undo', 'policy_rejected', 'policy_held', 'policy_auto_approved', 'policy_pending_review'];

/** PIs see their own collections' images; reviewers and admins see everyone's. */
export async function listForReview(repos: Repositories, who: Caller, f: ReviewFilter): Promise<Page<ReviewCard>> {
  if (f.collectionId) await visibleCollection(repos, who, f.collectionId);
  const page = await repos.images.listForReview({ ...f, owner: overseesAll(who) ? undefined : who.username });
  const ids = page.items.map((i) => i.id);
  const last = await repos.audit.latestOfEach(ids, DECISIONS);
  const frames = await repos.images.framesByImage(ids);
  return {
    items: page.items.map((image) => ({ image, frames: frames.get(image.id) ?? [], lastDecision: last.get(image.id) ?? null, canDecide: canDecide(who, image) })),
    next: page.next,
  };
}

/** Reviewers decide on images not yet published; separation of duties: never on their own collection's. */
export function canDecide(who: Caller, img: Pick<ReviewImage, 'state' | 'owner'>): boolean {
  const decidable = img.state === 'quarantined' || img.state === 'approved' || img.state === 'rejected';
  return decidable && who.roles.includes('reviewer') && img.owner !== who.username;
}
