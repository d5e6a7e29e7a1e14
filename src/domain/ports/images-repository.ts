import type { Collection, Image, ImageDataset, ImageFrame, ImageState, Verdict } from '../model.js';
import type { Page } from './repositories.js';

export interface NewImage {
  collectionId: string;
  groupKey: string;
  stampIndex: number;
  state: 'quarantined' | 'failed';
  ra: number | null;
  dec: number | null;
  wcsQuality: 'full' | 'position' | 'none';
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  quarantineKey: string;
  bands: string[];
  colour: Record<string, unknown>;
  error: string | null;
  batchId?: string | null;
  /** ISO 8601, from the FITS headers; null when they do not say. */
  observedAt?: string | null;
  /** The object id the FITS file gives the stamp (fits-cutouts.ts OBJECT_ID_KEYS). */
  objectId?: string | null;
}

/** A per-band frame as conversion records it (not yet published). */
export type NewFrame = Omit<ImageFrame, 'public_key' | 'public_sha256'>;

/** Fields of an image that steps after conversion record (verdicts, publishing, errors). */
export type ImageChanges = Partial<
  Pick<
    Image,
    | 'error'
    | 'verdict'
    | 'verdict_reasons'
    | 'verdict_rules'
    | 'strip_coordinates'
    | 'one_incomplete_set'
    | 'policy_ref'
    | 'policy_digest'
    | 'evaluated_at'
    | 'public_key'
    | 'public_sha256'
    | 'published_at'
    | 'reviewed_by'
    | 'recheck_reason'
    | 'publish_after'
  >
>;

/** The counts the policy's caps need for one image's batch (null = images without a poll batch). */
/** One policy verdict to record (ImagesRepository.recordVerdicts). */
export interface VerdictWrite {
  id: string;
  changes: Required<Pick<ImageChanges, 'verdict' | 'verdict_reasons' | 'verdict_rules' | 'strip_coordinates' | 'one_incomplete_set' | 'policy_ref' | 'policy_digest' | 'evaluated_at'>>;
  /** Out of quarantine (only if still there, with its transition); absent: the image stays in quarantine (pending review, held). */
  to?: 'approved' | 'rejected';
  /** The transition's reason. */
  reason: string | null;
}

export interface BatchReviewCounts {
  /** Images of the batch that converted (failed ones do not count). */
  total: number;
  /** Of those, how many already have a verdict. */
  evaluated: number;
}

/** An image as the review page lists it: with its collection's name and owner. */
/** An image as the review page lists it, with the collection facts a reviewer weighs: where the pixels come from and which release the system says they are. */
export type ReviewImage = Image & { collection_name: string; owner: string } & Pick<Collection, 'repository' | 'data_release' | 'release_source' | 'dataset_type'>;

export interface ReviewImageFilter {
  /** Only images of this owner's collections. */
  owner?: string;
  collectionId?: string;
  batchId?: string;
  verdict?: Verdict;
  state?: ImageState;
  /** Where the page starts: the previous page's `next` (an opaque keyset cursor), or nothing for the first page. */
  after?: string;
  limit: number;
}

export interface ImagesRepository {
  /**
   * One image per (collection, group, stamp): inserting a group twice adds
   * nothing. Returns the rows actually inserted.
   */
  insert(images: NewImage[], actor: string): Promise<Image[]>;
  insertFrames(frames: NewFrame[]): Promise<void>;
  /** Records the datasets each image was made from; conversion writes them in the transaction that inserts the images. */
  linkDatasets(links: ImageDataset[]): Promise<void>;
  /** The Butler dataset ids behind each image, by band then id (the order of a subject's #dataset_ids); images without any are absent. */
  datasetIds(imageIds: string[]): Promise<Map<string, string[]>>;
  /** The object ids the FITS files gave these images (images without one are absent). */
  sourceObjectIds(imageIds: string[]): Promise<Map<string, string>>;
  find(id: string): Promise<Image | undefined>;
  /** Several images by id (missing ids are absent from the answer). */
  findMany(ids: string[]): Promise<Image[]>;
  /** Locks the image's row until the transaction ends. Throws NotFoundError. */
  lock(id: string): Promise<Image>;
  list(collectionId: string, filter: { state?: ImageState; after?: string; limit: number }): Promise<Page<Image>>;
  update(id: string, changes: ImageChanges): Promise<void>;
  /**
   * Moves the image from `from` to `to` only if it is still in `from` (two
   * workers racing produce one transition), recording `changes` with it and
   * logging the transition. False when it had already moved.
   */
  transition(id: string, from: ImageState, to: ImageState, actor: string, changes?: ImageChanges, reason?: string | null): Promise<boolean>;

  /**
   * A policy run's verdicts at once, as update() and transition() would
   * record them one by one: each image gets its verdict; those moving to
   * approved or rejected move only if still quarantined, each with its
   * transition by `actor`. One statement for any number of images.
   */
  recordVerdicts(verdicts: VerdictWrite[], actor: string): Promise<void>;

  /** Quarantined images of the collection with no verdict and no error, in stable order (batch, group, stamp). */
  awaitingVerdict(collectionId: string, limit: number): Promise<Image[]>;
  batchReviewCounts(collectionId: string, batchId: string | null): Promise<BatchReviewCounts>;
  /** Images of other batches admitted so far: approved or later, or left for review by the policy. */
  countAdmittedOutside(collectionId: string, batchId: string | null): Promise<number>;
  /** Images of the collection created since `since` that already have a verdict (the daily cap). */
  countJudgedSince(collectionId: string, since: Date): Promise<number>;

  /**
   * Images of the collection on which the policy's verdict stands (no
   * reviewer's decision in force, nothing public yet: quarantined, rejected
   * or approved with a verdict, or quarantined after the rules failed);
   * with `staleDigest`, only those judged by another policy file.
   */
  reopenable(collectionId: string, f: { staleDigest?: string; limit: number }): Promise<Image[]>;
  /** Collections (not retired) holding reopenable images judged by a policy file other than `digest`. */
  staleVerdictCollections(digest: string, limit: number): Promise<string[]>;
  /** Images a reviewer approved that are not yet in an upload batch (approved, or published and waiting for one). */
  reviewerApprovedUnplanned(collectionId: string): Promise<Image[]>;

  /** Approved images that have not moved since `olderThan`, or whose publishing delay ended before it (their release was lost), by collection, at most `limit`. */
  approvedIdleSince(olderThan: Date, limit: number): Promise<Pick<Image, 'id' | 'collection_id'>[]>;
  /** The collection's images approved and waiting to be published, and those live in the public store. */
  releaseCounts(collectionId: string): Promise<{ approved: number; published: number }>;
  /** Ids of the collection's images that were released (published or uploaded). */
  releasedIds(collectionId: string): Promise<string[]>;

  frames(imageId: string): Promise<ImageFrame[]>;
  /** Frames of many images, each image's in location order. */
  framesByImage(imageIds: string[]): Promise<Map<string, ImageFrame[]>>;
  /** Records where an image and its frames will be (or are) public; frames are matched by band. */
  setPublicKeys(imageId: string, image: { key: string; sha256: string }, frames: { band: string; key: string; sha256: string }[]): Promise<void>;
  clearPublicKeys(imageId: string): Promise<void>;
  /** Whether an image other than `imageId` that is approved, published or uploaded uses the public object `key` (as its image or a frame). */
  publicKeyInUse(key: string, exceptImageId: string): Promise<boolean>;
  /** Images holding a public key while quarantined or rejected: an interrupted publish to undo. */
  abandonedPublic(limit: number): Promise<string[]>;
  /** Quarantine object keys of a collection's images and frames (for purging). */
  quarantineKeys(collectionId: string): Promise<string[]>;

  /** The review page's listing, oldest first (then group, stamp, id); keyset-paged, `next` continuing after the last row. */
  listForReview(filter: ReviewImageFilter): Promise<Page<ReviewImage>>;
  /** The given images grouped by collection id (unknown ids are left out). */
  byCollection(imageIds: string[]): Promise<Map<string, string[]>>;
  /** What an export holds: the approved and released images, in stable order (batch, group, stamp). */
  exportable(collectionId: string): Promise<Image[]>;
  /** Images the pipeline is done with before review: they have a verdict, or failed. */
  countJudgedOrFailed(collectionId: string): Promise<number>;
  countByVerdict(collectionId: string): Promise<{ verdict: Verdict | null; n: number }[]>;
  /** Some image of the collection with this verdict, if there is one. */
  firstWithVerdict(collectionId: string, verdict: Verdict): Promise<string | undefined>;

  /**
   * The ids `listForReview` would page through with this filter (`after` and
   * `limit` aside), in its order: at most `max`, with how many match in all.
   * With `decidableBy`, only images that user could approve, reject or undo
   * now (not their own collection's, not rejected or held by the policy).
   */
  reviewIds(filter: Omit<ReviewImageFilter, 'after' | 'limit'> & { decidableBy?: string; decidableFor?: 'approve' | 'reject' | 'undo' }, max: number): Promise<{ ids: string[]; total: number }>;
  /** The owner of each image's collection (unknown ids are absent). */
  ownersOf(imageIds: string[]): Promise<Map<string, string>>;
  /** A collection's images grouped by what became of them and why: one row per (outcome, rules, reason), largest first. */
  outcomeGroups(collectionId: string): Promise<OutcomeGroupRow[]>;
}

/** What became of an image: its policy verdict, a reviewer's decision on what the policy sent to review, or a failed conversion. */
export type ImageOutcome = Verdict | 'reviewer_approved' | 'reviewer_rejected' | 'failed';

export interface OutcomeGroupRow {
  outcome: ImageOutcome;
  /** The policy rules that matched (none for reviewers' rejections and failures). */
  rules: string[];
  /** The verdict's reasons joined with "; " (a cap's image counts left out), the reviewer's reason, or the error's first line. */
  reason: string;
  count: number;
  /** The latest observation time among the group's images (null when none has one). */
  newestObservedAt: Date | null;
}
