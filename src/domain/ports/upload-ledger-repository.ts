import type { UploadBatch, UploadBatchState, UploadItem, UploadItemState } from '../model.js';

/** A ledger row as the upload engine works with it. */
export type LedgerItem = Pick<UploadItem, 'id' | 'image_id' | 'external_id' | 'state' | 'subject_id' | 'attempts'>;

/** A subject that exists at Zooniverse for a ledger row. */
export interface CreatedSubject {
  itemId: string;
  subjectId: string;
}

/** Ledger rows per state of one batch; a state without rows is absent. */
export type ItemCounts = Partial<Record<UploadItemState, number>>;

/** One reason failed rows give, how many give it, and one of their external ids. */
export interface FailureReason {
  error: string | null;
  count: number;
  example: string;
}

/** An unfinished batch nobody has touched for a while, as the sweep sees it. */
export interface StalledBatch {
  id: string;
  collectionId: string;
  state: UploadBatchState;
  updatedAt: Date;
  /** Its collection has a Zooniverse project to upload to. */
  hasProject: boolean;
}

/** A subject made for an image (ledger row created or linked), with the set it went to. */
export interface ImageSubject {
  itemId: string;
  state: UploadItemState;
  subjectId: string | null;
  subjectSetId: string | null;
}

/**
 * The upload ledger: upload batches and their items, one item per subject,
 * written before anything is sent to Zooniverse. It is what makes an upload
 * exactly-once: the engine keeps it ahead of Panoptes (attempts are raised
 * before a create leaves, outcomes are recorded as they come back), so after
 * a crash the ledger alone says what may exist and what certainly does not.
 *
 * Item writes guard on the state they expect (a create is recorded only on
 * an intent row, a link only on a created one), so a late or repeated write
 * never moves a row backwards. Rows and batches are stamped with the time of
 * the write.
 */
export interface UploadLedgerRepository {
  // ---------------------------------------------------------------- batches

  /** The batch, or undefined when there is none. */
  find(id: string): Promise<UploadBatch | undefined>;
  /** The batch; throws NotFoundError. */
  get(id: string): Promise<UploadBatch>;
  /** Locks the batch's row until the transaction ends; throws NotFoundError. */
  lock(id: string): Promise<UploadBatch>;
  /** The collection's newest batches, newest first, at most `limit`. */
  recentOf(collectionId: string, limit: number): Promise<UploadBatch[]>;
  /** The collection's batches that are to be uploaded or are part-way (export batches never are), oldest first. */
  uploadableOf(collectionId: string): Promise<UploadBatch[]>;
  /** The collection's non-export batches in `states`, oldest first. */
  inStates(collectionId: string, states: UploadBatchState[]): Promise<UploadBatch[]>;
  /** Ids of the collection's batches in the middle of an upload (uploading or verifying). */
  underWayOf(collectionId: string): Promise<string[]>;
  /** Ids of the collection's batches not retracted, oldest first. */
  unretractedOf(collectionId: string): Promise<string[]>;
  /** Unfinished non-export batches whose row and ledger have not moved since `olderThan`, by collection then seq. */
  stalled(olderThan: Date, limit: number): Promise<StalledBatch[]>;
  /** The collection's batches before `seq` whose set was not seen complete (exports and retracted ones aside), oldest first. */
  openSetsBefore(collectionId: string, seq: number): Promise<Pick<UploadBatch, 'id' | 'seq' | 'state' | 'subject_set_id'>[]>;
  /** The subject set the collection's batches share, once one of them recorded it (the oldest's). */
  sharedSubjectSet(collectionId: string): Promise<string | undefined>;
  /** Linked rows of every batch whose set is `subjectSetId`: what the set should hold. */
  countLinkedInSet(subjectSetId: string): Promise<number>;

  /** Moves the batch to `to`; `error` replaces its message, left out it stays as it is. */
  setState(id: string, to: UploadBatchState, error?: string | null): Promise<void>;
  /** Moves the batch to `to` with `error` only if it is in one of `from`: the moved batch, or undefined when it was not. */
  moveState(id: string, from: UploadBatchState[], to: UploadBatchState, error: string | null): Promise<UploadBatch | undefined>;
  /** Notes a passing failure on the batch if it is still in one of `states`; the state stays. */
  noteError(id: string, states: UploadBatchState[], error: string): Promise<void>;
  /** Records the batch's subject set. */
  recordSubjectSet(id: string, subjectSetId: string): Promise<void>;
  /** Records the subject set import started for the batch. */
  recordImport(id: string, importId: string): Promise<void>;
  /** An import batch goes on subject by subject (mode 'api'); other batches are left alone. */
  switchToApi(id: string): Promise<void>;
  /** Sets the mode of a batch that has sent nothing yet (its caller checks that). */
  setMode(id: string, mode: 'import' | 'api'): Promise<void>;
  /** Records that the batch's set was seen complete at Zooniverse. */
  markSetCompleted(id: string): Promise<void>;

  // ---------------------------------------------------------------- items

  /** The batch's rows in `states`, by external id. */
  items(batchId: string, states: UploadItemState[]): Promise<LedgerItem[]>;
  /** How many of the batch's rows are in `states`. */
  count(batchId: string, states: UploadItemState[]): Promise<number>;
  /** Row counts per state of several batches with one query (batches without rows are absent). */
  countsOf(batchIds: string[]): Promise<Map<string, ItemCounts>>;
  /** The commonest errors of the batch's failed rows, most frequent first. */
  failureReasons(batchId: string, limit: number): Promise<FailureReason[]>;
  /** The image of every row of the batch, retracted ones included, in image id order. */
  imageIds(batchId: string): Promise<string[]>;
  /** Whether a row of the batch that is not retracted has a subject at Zooniverse. */
  holdsSubjects(batchId: string): Promise<boolean>;
  /** The subjects made for the image (its created and linked rows, in any batch). */
  subjectsOfImage(imageId: string): Promise<ImageSubject[]>;
  /** Whether the policy asked for paced uploads on an image of the batch: its policy_ref, or undefined when none did. */
  pacedByPolicy(batchId: string): Promise<{ policyRef: string | null } | undefined>;

  /** The batch's failed rows go back to intent with no subject or error (attempts stay). */
  reopenFailed(batchId: string): Promise<void>;
  /** Write-ahead for one create: raises the row's attempts while it is intent; false when it is not. */
  claim(itemId: string): Promise<boolean>;
  /** Write-ahead for an import: raises attempts of every intent row of the batch. */
  claimAllIntent(batchId: string): Promise<void>;
  /** Intent rows become created with their subject. */
  recordCreated(subjects: CreatedSubject[]): Promise<void>;
  /** Created rows become linked. */
  recordLinked(itemIds: string[]): Promise<void>;
  /** Linked rows go back to created (their subject is not in the set after all). */
  recordUnlinked(itemIds: string[]): Promise<void>;
  /** Rows that are intent, created or linked become failed with `error`. */
  recordFailed(itemIds: string[], error: string): Promise<void>;
  /** Records the subject found for a row, whatever its state. */
  recordSubject(itemId: string, subjectId: string): Promise<void>;
  /** The rows become retracted. */
  recordRetracted(itemIds: string[]): Promise<void>;
  /** Every row of the batch not yet retracted becomes retracted. */
  retractAll(batchId: string): Promise<void>;
  /** Published images of the batch's linked rows become uploaded (with their transitions); returns how many moved. */
  markImagesUploaded(batchId: string, actor: string, reason: string): Promise<number>;
}
