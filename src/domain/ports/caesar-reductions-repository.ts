/**
 * The optional Caesar path of the results loop (issue 14): per collection,
 * the hashed secret Caesar's `external_with_basic_auth` effect presents,
 * and the latest reduction Caesar sent per (workflow, subject, reducer key).
 * Implemented on Kysely in src/db/repositories/caesar-reductions.ts.
 */

export interface CaesarEndpoint {
  collectionId: string;
  /** Hex sha256 of the secret; the secret itself is never stored. */
  secretHash: string;
  createdBy: string;
  createdAt: Date;
  /** Deliveries stored (newer than what was kept) and ignored (not this collection's subjects). */
  stored: number;
  ignored: number;
  lastReceivedAt: Date | null;
}

/** One Caesar reduction of one of the bridge's subjects, as kept. */
export interface CaesarReduction {
  workflowId: string;
  subjectId: string;
  reducerKey: string;
  collectionId: string;
  imageId: string;
  /** The reducer's output, as Caesar sent it (e.g. question_consensus_reducer: most_likely, num_votes, agreement). */
  data: unknown;
  /** Caesar's own id of the reduction, when sent. */
  caesarId: string | null;
  /** Caesar's updated_at, ISO 8601 UTC with milliseconds (text order is time order). */
  caesarUpdatedAt: string;
}

export interface StoredCaesarReduction extends CaesarReduction {
  receivedAt: Date;
}

export interface CaesarReductionsRepository {
  endpoint(collectionId: string): Promise<CaesarEndpoint | undefined>;
  /** Creates or replaces (rotates) the collection's secret hash; answers whether one was replaced. Counts are kept. */
  setEndpoint(collectionId: string, secretHash: string, createdBy: string): Promise<{ replaced: boolean }>;
  /** Switches the endpoint off; answers whether there was one. Stored reductions stay. */
  removeEndpoint(collectionId: string): Promise<boolean>;
  /** Counts one delivery as stored or ignored (a stale re-delivery counts as stored: it was ours). */
  recordDelivery(collectionId: string, outcome: 'stored' | 'ignored', at: Date): Promise<void>;
  /**
   * The collection's image a Zooniverse subject shows: by the subject id the
   * upload recorded (upload_items.subject_id), else by the `#bridge_image_id`
   * the subject's metadata carries, if that image is the collection's.
   */
  imageOfSubject(collectionId: string, subjectId: string, bridgeImageId: string | null): Promise<string | null>;
  /**
   * Keeps the reduction unless the one kept for its (workflow, subject,
   * reducer key) is as new or newer (by caesarUpdatedAt): a re-delivery or
   * an out-of-order older update changes nothing. Answers whether it was written.
   */
  upsertIfNewer(r: CaesarReduction): Promise<boolean>;
  /** Every kept reduction of these subjects (all workflows and reducer keys), for the PI's result rows. */
  ofSubjects(collectionId: string, subjectIds: string[]): Promise<StoredCaesarReduction[]>;
  /** A page of the collection's kept reductions in (workflow, subject, reducer key) order. */
  list(collectionId: string, opts: { after?: { workflowId: string; subjectId: string; reducerKey: string }; limit: number }): Promise<StoredCaesarReduction[]>;
}
