/**
 * The bridge's records as the domain sees them: plain data, no database
 * types. `src/db/schema.ts` declares the tables that store them and checks
 * at compile time that a selected row is exactly one of these.
 */

export type CollectionStatus = 'active' | 'paused' | 'retired';
export type SourceKind = 'butler' | 'prefix';
export type ArtifactState = 'discovered' | 'retrieved' | 'converted' | 'failed';
/** Whether the Data Rights Panel approved the collection (for non-public data). */
export type PanelApproval = 'none' | 'approved';
export type Verdict = 'rejected' | 'held' | 'auto_approved' | 'pending_review';
export interface MatchedRule {
  id: string;
  description: string;
}
export type ImageState = 'quarantined' | 'approved' | 'rejected' | 'published' | 'uploaded' | 'retracted' | 'failed';
export type UploadBatchState = 'publishing' | 'manifested' | 'waiting' | 'uploading' | 'verifying' | 'uploaded' | 'blocked' | 'failed' | 'retracted';
export type UploadItemState = 'intent' | 'created' | 'linked' | 'failed' | 'retracted';
export type UploadMode = 'import' | 'api';

export interface Collection {
  id: string;
  owner: string;
  repository: string;
  name: string;
  source_kind: SourceKind;
  /** Directory or s3://bucket/prefix for 'prefix' sources. */
  source_root: string | null;
  dataset_type: string;
  /** Band names for R, G, B (or one for grey); null = reddest first. */
  rgb: string[] | null;
  colour: Record<string, unknown>;
  zooniverse_project_id: string | null;
  subject_set_naming: string | null;
  poll_interval_seconds: number;
  status: CollectionStatus;
  panel_approval: PanelApproval;
  /** Derived by the system from the repository label (see domain/releases.ts), never stated by the PI. */
  data_release: string | null;
  /** Where data_release came from: the operator's mapping, an admin, an unmapped label, or (before 2026-12-04) the PI. */
  release_source: 'mapping' | 'admin' | 'unmapped' | 'pi_claim';
  /** The release is proprietary (from the mapping). */
  release_proprietary: boolean;
  /** Hours after observation during which the release's images may not be published (from the mapping). */
  release_embargo_hours: number;
  owner_data_rights: string[];
  webhook_url: string | null;
  webhook_secret: string | null;
  upload_mode: 'import' | 'api';
  max_batch_size: number;
  subject_set_per: 'batch' | 'collection';
  extra_metadata: Record<string, unknown>;
  /** Subjects carry one greyscale frame per band after the colour image (a flipbook). */
  subject_frames: boolean;
  /** Start a new subject set only once the previous one is complete (paced uploads). */
  one_incomplete_set: boolean;
  /** An admin's override of the publishing delay for this collection (seconds); null = the deployment's PUBLISH_DELAY_SECONDS. */
  publish_delay_seconds: number | null;
  cursor: string | null;
  last_polled_at: Date | null;
  last_poll_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface Artifact {
  id: string;
  collection_id: string;
  dataset_id: string;
  dataset_type: string;
  run: string;
  data_id: Record<string, string | number>;
  band: string | null;
  /** Canonical JSON of the dataId without band: the bands of one group combine into images. */
  group_key: string;
  cursor: string;
  path: string | null;
  size: number | null;
  sha256: string | null;
  /** Where the retrieved bytes wait (private area). */
  object_key: string | null;
  batch_id: string | null;
  state: ArtifactState;
  error: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
}

/** How an image's `error` begins when its policy rules failed to evaluate: a fixed policy file clears it by re-evaluation. */
export const POLICY_ERROR_PREFIX = 'policy could not be evaluated: ';

export interface Image {
  id: string;
  collection_id: string;
  group_key: string;
  stamp_index: number;
  state: ImageState;
  ra: number | null;
  dec: number | null;
  wcs_quality: 'full' | 'position' | 'none';
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  quarantine_key: string;
  bands: string[];
  colour: Record<string, unknown>;
  error: string | null;
  batch_id: string | null;
  verdict: Verdict | null;
  verdict_reasons: string[];
  verdict_rules: MatchedRule[];
  strip_coordinates: boolean;
  /** A policy rule asked for paced uploads (one incomplete subject set at a time). */
  one_incomplete_set: boolean;
  policy_ref: string | null;
  policy_digest: string | null;
  evaluated_at: Date | null;
  observed_at: Date | null;
  /** The catalogue id the FITS file gives the stamp's object (OBJECT_ID and kin), when it gives one. */
  source_object_id: string | null;
  public_key: string | null;
  public_sha256: string | null;
  published_at: Date | null;
  /** The reviewer whose approval or rejection is in force; null while the policy's verdict stands (only those are re-evaluated when facts change). */
  reviewed_by: string | null;
  /** Why the image came back to review (its facts or extra metadata changed after a verdict); cleared by the next decision. */
  recheck_reason: string | null;
  /** When a reviewer's approval may be published (the end of the publishing delay, during which Undo still works); null = no delay. */
  publish_after: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface Batch {
  id: string;
  collection_id: string;
  seq: number;
  created_at: Date;
  /** When everything the poll brought in was converted (or failed) and judged, and the PI was told; null while work remains. */
  settled_at: Date | null;
  /** When every dataset of the batch had been retrieved into quarantine and the PI was told (`files_retrieved`); null until then. */
  files_retrieved_at: Date | null;
}

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  entity: 'collection' | 'image' | 'batch';
  entity_id: string;
  collection_id: string | null;
  policy_ref: string | null;
  reason: string | null;
  detail: Record<string, unknown>;
}

export interface Delegation {
  id: string;
  username: string;
  prefix: string;
  granted_by: string;
  created_at: Date;
}

/** A Zooniverse project an admin approved for a PI: their collections may upload to it. */
export interface ProjectBinding {
  id: string;
  username: string;
  project_id: string;
  approved_by: string;
  created_at: Date;
}

/** A PI's request that an admin approve a Zooniverse project for them; gone once approved or declined. */
export interface ProjectBindingRequest {
  id: string;
  username: string;
  project_id: string;
  /** The PI's words: which project and why. */
  reason: string;
  created_at: Date;
}

export interface UploadBatch {
  id: string;
  collection_id: string;
  seq: number;
  mode: 'import' | 'api' | 'export';
  state: UploadBatchState;
  subject_set_id: string | null;
  import_id: string | null;
  manifest_csv_key: string | null;
  manifest_json_key: string | null;
  total: number;
  error: string | null;
  /** When the batch's subject set was seen complete at Zooniverse (paced uploads stop checking it). */
  set_completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface UploadItem {
  id: string;
  upload_batch_id: string;
  image_id: string;
  external_id: string;
  state: UploadItemState;
  subject_id: string | null;
  attempts: number;
  error: string | null;
  updated_at: Date;
}

export interface BridgeEvent {
  id: string;
  collection_id: string;
  kind: string;
  payload: Record<string, unknown>;
  created_at: Date;
  delivered_at: Date | null;
  delivery_attempts: number;
  delivery_error: string | null;
}

export interface Transition {
  id: string;
  entity: 'collection' | 'artifact' | 'image';
  entity_id: string;
  from_state: string | null;
  to_state: string;
  actor: string;
  reason: string | null;
  at: Date;
}

export interface ImageFrame {
  image_id: string;
  band: string;
  position: number;
  quarantine_key: string;
  sha256: string;
  bytes: number;
  public_key: string | null;
  public_sha256: string | null;
}

/**
 * A Butler dataset an image was made from: one band of its group, or the ZIP
 * archive it came out of. Written with the image at conversion, so later
 * steps (manifests, exports) need not work the dataset ids out again.
 */
export interface ImageDataset {
  image_id: string;
  /** Null only if the artifact row was deleted; the dataset id stays with the image. */
  artifact_id: string | null;
  dataset_id: string;
  band: string | null;
  /** 1-based channel order (R, G, B; the one band or archive is 1); datasets that fed no channel come last. */
  position: number;
}
