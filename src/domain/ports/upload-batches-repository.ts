import type { Image, UploadBatch, UploadItemState } from '../model.js';

/** A batch as the manifest step plans it: its subjects are fixed from the start. */
export interface NewUploadBatch {
  collectionId: string;
  /** Next number of the collection's batches (1 for the first). */
  seq: number;
  mode: UploadBatch['mode'];
  /** The images to become subjects, in subject order. */
  imageIds: string[];
}

/** One ledger row (a future or existing subject) with the image it uploads. */
export interface LedgerEntry {
  image: Image;
  /** The subject's external_id at Zooniverse. */
  externalId: string;
  state: UploadItemState;
}

/** Where a batch's manifests are in the public store, and how many subjects they list. */
export interface ManifestRecord {
  csvKey: string;
  jsonKey: string;
  total: number;
}

/**
 * Upload batches and their ledger (one row per subject, the record that makes
 * uploads exactly-once). A batch is planned once from published images and
 * goes publishing -> manifested -> uploading ... as its manifests are written
 * and its subjects uploaded.
 */
export interface UploadBatchesRepository {
  find(id: string): Promise<UploadBatch | undefined>;
  /** The collection's highest batch number so far; 0 before its first batch. */
  lastSeq(collectionId: string): Promise<number>;
  /** Ids of the collection's batches still waiting for their manifests (state 'publishing'), in order. */
  awaitingManifest(collectionId: string): Promise<string[]>;
  /** Published images (with a public object) that no batch holds yet, in subject order: review batch, group, stamp, id. */
  unplannedImages(collectionId: string): Promise<string[]>;
  /** Creates the batch in state 'publishing' with a ledger row per image (state 'intent', external_id = the image id). */
  create(b: NewUploadBatch): Promise<UploadBatch>;
  /** The batch's ledger with each row's image, in subject order: review batch, group, stamp, id. */
  ledger(batchId: string): Promise<LedgerEntry[]>;
  /** Records the manifests of a batch still 'publishing' and moves it to 'manifested'; false when it had moved on. */
  markManifested(id: string, m: ManifestRecord): Promise<boolean>;
  /** Records rewritten manifests of a batch that is 'manifested' (and leaves any other batch alone). */
  updateManifest(id: string, m: ManifestRecord): Promise<void>;
  /** The collection an upload batch belongs to; undefined when there is no such batch. */
  collectionOf(uploadBatchId: string): Promise<string | undefined>;
}
