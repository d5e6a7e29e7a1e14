import type { AuditEntry, Image, ImageFrame } from './model.js';
import type { ReviewImage, ReviewImageFilter } from './ports/images-repository.js';
import type { Page, Repositories } from './ports/repositories.js';
import { overseesAll, type Caller } from './caller.js';
import { visibleCollection } from './collections.js';
import { imageNames, type ImageNaming } from './image-name.js';

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
  /** What a reviewer calls it (image-name.ts), with the PI's object id and the group's dataId. */
  naming: ImageNaming;
}

/** The audit actions that decide an image's fate, as the card shows the latest. */
const DECISIONS = ['approve', 'reject', 'undo', 'policy_rejected', 'policy_held', 'policy_auto_approved', 'policy_pending_review'];

/** PIs see their own collections' images; reviewers and admins see everyone's. */
export async function listForReview(repos: Repositories, who: Caller, f: ReviewFilter): Promise<Page<ReviewCard> & { total: number }> {
  if (f.collectionId) await visibleCollection(repos, who, f.collectionId);
  const page = await repos.images.listForReview({ ...f, owner: overseesAll(who) ? undefined : who.username });
  const ids = page.items.map((i) => i.id);
  const last = await repos.audit.latestOfEach(ids, DECISIONS);
  const frames = await repos.images.framesByImage(ids);
  const names = await imageNames(repos, page.items);
  const { after: _after, limit: _limit, ...filter } = f;
  // How many the filter matches in all, so the page can say "page 3 of 100" and offer "select all N".
  const { total } = await repos.images.reviewIds({ ...filter, owner: overseesAll(who) ? undefined : who.username }, 0);
  return {
    items: page.items.map((image) => ({ image, frames: frames.get(image.id) ?? [], lastDecision: last.get(image.id) ?? null, canDecide: canDecide(who, image), naming: names.get(image.id)! })),
    next: page.next,
    total,
  };
}

/**
 * Reviewers decide on images not yet published, and not on what the policy
 * rejected or holds (a fact must change first); separation of duties: never
 * on their own collection's. The same rule as reviewIds' `decidable`.
 */
export function canDecide(who: Caller, img: Pick<ReviewImage, 'state' | 'owner' | 'verdict'>): boolean {
  const decidable = img.state === 'quarantined' || img.state === 'approved' || img.state === 'rejected';
  const policyDecided = img.verdict === 'rejected' || img.verdict === 'held';
  return decidable && !policyDecided && who.roles.includes('reviewer') && img.owner !== who.username;
}

/** At most this many ids answer "every image matching this filter". */
export const MAX_REVIEW_IDS = 10_000;

/**
 * Every image the listing would show with this filter, in its order (for
 * "select all N matching" across pages): at most MAX_REVIEW_IDS ids, the
 * total, and whether ids were left out. With `decidable`, only the images
 * this caller could approve, reject or undo now: a reviewer's, not of their
 * own collections, neither rejected nor held by the policy; `decidableFor`
 * narrows that to the images one action applies to.
 */
export async function reviewIds(repos: Repositories, who: Caller, f: Omit<ReviewFilter, 'after' | 'limit'> & { decidable?: boolean; decidableFor?: 'approve' | 'reject' | 'undo' }): Promise<{ ids: string[]; total: number; truncated: boolean }> {
  if (f.collectionId) await visibleCollection(repos, who, f.collectionId);
  const { decidable, decidableFor, ...filter } = f;
  if ((decidable || decidableFor) && !who.roles.includes('reviewer')) return { ids: [], total: 0, truncated: false };
  const narrow = decidable || decidableFor ? { decidableBy: who.username, ...(decidableFor ? { decidableFor } : {}) } : {};
  const r = await repos.images.reviewIds({ ...filter, owner: overseesAll(who) ? undefined : who.username, ...narrow }, MAX_REVIEW_IDS);
  return { ids: r.ids, total: r.total, truncated: r.total > r.ids.length };
}

/** The images among `ids` this caller may see (as in the listing), with their frames, in the order asked; others are left out. */
export async function visibleForReview(repos: Repositories, who: Caller, ids: string[]): Promise<{ image: Image; frames: ImageFrame[] }[]> {
  const unique = [...new Set(ids)];
  if (!unique.length) return [];
  const owners = await repos.images.ownersOf(unique);
  const seen = unique.filter((id) => owners.has(id) && (overseesAll(who) || owners.get(id) === who.username));
  const byId = new Map((await repos.images.findMany(seen)).map((i) => [i.id, i]));
  const frames = await repos.images.framesByImage(seen);
  return seen.filter((id) => byId.has(id)).map((id) => ({ image: byId.get(id)!, frames: frames.get(id) ?? [] }));
}
