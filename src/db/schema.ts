/*
 * Longer than 400 lines because it is the one place the database's row types
 * are written out, table by table, for Kysely; splitting it would only scatter
 * one list.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type * as M from '../domain/model.js';
import type { ArtifactState, CollectionStatus, ImageState, MatchedRule, PanelApproval, SourceKind, UploadBatchState, UploadItemState, Verdict } from '../domain/model.js';

export type { ArtifactState, CollectionStatus, ImageState, MatchedRule, PanelApproval, SourceKind, UploadBatchState, UploadItemState, Verdict };

/** Row types of the database; migrations in ./migrations are the source of truth. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface CollectionTable {
  id: Generated<string>;
  owner: string;
  repository: string;
  name: string;
  source_kind: SourceKind;
  /** Directory or s3://bucket/prefix for 'prefix' sources. */
  source_root: string | null;
  dataset_type: string;
  /** Band names for R, G, B (or one for grey); null = reddest first. */
  rgb: Json<string[] | null>;
  colour: Json<Record<string, unknown>>;
  zooniverse_project_id: string | null;
  subject_set_naming: string | null;
  poll_interval_seconds: number;
  status: CollectionStatus;
  panel_approval: ColumnType<PanelApproval, PanelApproval | undefined, PanelApproval>;
  data_release: string | null;
  release_source: ColumnType<'mapping' | 'admin' | 'unmapped' | 'pi_claim', 'mapping' | 'admin' | 'unmapped' | 'pi_claim' | undefined, 'mapping' | 'admin' | 'unmapped' | 'pi_claim'>;
  release_proprietary: ColumnType<boolean, boolean | undefined, boolean>;
  release_embargo_hours: ColumnType<number, number | undefined, number>;
  owner_data_rights: ColumnType<string[], string | undefined, string>;
  webhook_url: string | null;
  webhook_secret: string | null;
  upload_mode: ColumnType<'import' | 'api', 'import' | 'api' | undefined, 'import' | 'api'>;
  max_batch_size: ColumnType<number, number | undefined, number>;
  subject_set_per: ColumnType<'batch' | 'collection', 'batch' | 'collection' | undefined, 'batch' | 'collection'>;
  extra_metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** Subjects carry one greyscale frame per band after the colour image (a flipbook). */
  subject_frames: ColumnType<boolean, boolean | undefined, boolean>;
  /** Start a new subject set only once the previous one is complete (paced uploads). */
  one_incomplete_set: ColumnType<boolean, boolean | undefined, boolean>;
  publish_delay_seconds: ColumnType<number | null, number | null | undefined, number | null>;
  cursor: string | null;
  last_polled_at: Timestamp | null;
  last_poll_error: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ArtifactTable {
  id: Generated<string>;
  collection_id: string;
  dataset_id: string;
  dataset_type: string;
  run: string;
  data_id: Json<Record<string, string | number>>;
  band: string | null;
  /** Canonical JSON of the dataId without band: the bands of one group combine into images. */
  group_key: string;
  cursor: string;
  path: string | null;
  size: ColumnType<number | null, number | null | undefined, number | null>;
  sha256: string | null;
  /** Where the retrieved bytes wait (private area). */
  object_key: string | null;
  batch_id: string | null;
  state: ArtifactState;
  error: string | null;
  attempts: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ImageTable {
  id: Generated<string>;
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
  bands: Json<string[]>;
  colour: Json<Record<string, unknown>>;
  error: string | null;
  batch_id: string | null;
  verdict: Verdict | null;
  verdict_reasons: ColumnType<string[], string | undefined, string>;
  verdict_rules: ColumnType<MatchedRule[], string | undefined, string>;
  strip_coordinates: ColumnType<boolean, boolean | undefined, boolean>;
  /** A policy rule asked for paced uploads (one incomplete subject set at a time). */
  one_incomplete_set: ColumnType<boolean, boolean | undefined, boolean>;
  policy_ref: string | null;
  policy_digest: string | null;
  evaluated_at: Timestamp | null;
  observed_at: Timestamp | null;
  source_object_id: ColumnType<string | null, string | null | undefined, string | null>;
  public_key: string | null;
  public_sha256: string | null;
  published_at: Timestamp | null;
  reviewed_by: ColumnType<string | null, string | null | undefined, string | null>;
  recheck_reason: ColumnType<string | null, string | null | undefined, string | null>;
  publish_after: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface BatchTable {
  id: Generated<string>;
  collection_id: string;
  seq: number;
  created_at: Generated<Date>;
  settled_at: Date | null;
  files_retrieved_at: Date | null;
}

export interface AuditTable {
  id: Generated<string>;
  at: Generated<Date>;
  actor: string;
  action: string;
  entity: 'collection' | 'image' | 'batch';
  entity_id: string;
  collection_id: string | null;
  policy_ref: string | null;
  reason: string | null;
  detail: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export interface SessionTable {
  id_hash: string;
  username: string;
  roles: Json<string[]>;
  groups: Json<string[]>;
  data_rights: Json<string[]>;
  csrf_token: string;
  /** The provider's ID token, sealed with a key derived from the cookie (for logout's id_token_hint). */
  id_token_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  /** The provider's access token, sealed the same way: what re-reads the groups and data rights from userinfo. */
  access_token_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the provider last stated the groups and roles (sign-in, or the last re-check). */
  roles_checked_at: Generated<Date>;
  created_at: Generated<Date>;
  expires_at: Timestamp;
}

export interface LoginFlowTable {
  state_hash: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  created_at: Generated<Date>;
}

export interface DelegationTable {
  id: Generated<string>;
  username: string;
  prefix: string;
  granted_by: string;
  created_at: Generated<Date>;
}

export interface ProjectBindingTable {
  id: Generated<string>;
  username: string;
  project_id: string;
  approved_by: string;
  created_at: Generated<Date>;
}

export interface ProjectBindingRequestTable {
  id: Generated<string>;
  username: string;
  project_id: string;
  reason: string;
  created_at: Generated<Date>;
}

export interface UploadBatchTable {
  id: Generated<string>;
  collection_id: string;
  seq: number;
  mode: 'import' | 'api' | 'export';
  state: UploadBatchState;
  subject_set_id: string | null;
  import_id: string | null;
  manifest_csv_key: string | null;
  manifest_json_key: string | null;
  total: ColumnType<number, number | undefined, number>;
  error: string | null;
  /** When the batch's subject set was seen complete at Zooniverse (paced uploads stop checking it). */
  set_completed_at: Timestamp | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface UploadItemTable {
  id: Generated<string>;
  upload_batch_id: string;
  image_id: string;
  external_id: string;
  state: UploadItemState;
  subject_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  error: string | null;
  updated_at: Generated<Date>;
}

export interface EventTable {
  id: Generated<string>;
  collection_id: string;
  kind: string;
  payload: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
  delivered_at: Timestamp | null;
  delivery_attempts: ColumnType<number, number | undefined, number>;
  delivery_error: string | null;
}

export interface TransitionTable {
  id: Generated<string>;
  entity: 'collection' | 'artifact' | 'image';
  entity_id: string;
  from_state: string | null;
  to_state: string;
  actor: string;
  reason: string | null;
  at: Generated<Date>;
}

export interface ImageFrameTable {
  image_id: string;
  band: string;
  position: number;
  quarantine_key: string;
  sha256: string;
  bytes: number;
  public_key: string | null;
  public_sha256: string | null;
}

export interface ImageDatasetTable {
  image_id: string;
  artifact_id: string | null;
  dataset_id: string;
  band: string | null;
  position: number;
}

export interface DeploymentTable {
  id: Generated<string>;
  created_at: Generated<Date>;
}

/*
 * The results loop (migration 20261209090000_results). Classification ids are
 * bigint: select them as `id::text` (pg returns int8 as a string, PGlite may not).
 */
type BigintText = ColumnType<string, string | number | bigint, string | number | bigint>;
type JsonIn<T> = ColumnType<T, string, string>;

export interface ClassificationCursorTable {
  project_id: string;
  last_id: ColumnType<string | null, string | number | bigint | null | undefined, string | number | bigint | null>;
  pulled_at: Timestamp | null;
  last_error: string | null;
  kept: ColumnType<string, string | number | undefined, string | number>;
  ignored: ColumnType<string, string | number | undefined, string | number>;
  export_state: ColumnType<string, string | undefined, string>;
  export_requested_at: string | null;
  export_next_possible_at: Timestamp | null;
  export_loaded_updated_at: string | null;
  export_rows: ColumnType<string, string | number | undefined, string | number>;
  export_error: string | null;
  updated_at: Generated<Date>;
}

export interface WorkflowTable {
  workflow_id: string;
  project_id: string;
  version: string | null;
  display_name: string | null;
  tasks: ColumnType<Record<string, unknown>, string | undefined, string>;
  fetched_at: Generated<Date>;
}

export interface ClassificationTable {
  id: BigintText;
  subject_id: string;
  seq: Generated<string>;
  project_id: string;
  workflow_id: string;
  workflow_version: string | null;
  collection_id: string;
  image_id: string;
  volunteer: string;
  created_at: ColumnType<Date, Date | string, Date | string>;
  annotations: JsonIn<unknown[]>;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  gold_standard: boolean | null;
  expert: boolean | null;
  source: 'pull' | 'export' | 'caesar';
  received_at: Generated<Date>;
}

export interface ReductionProgressTable {
  collection_id: string;
  reduced_seq: ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
  swap_volunteers: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  options_digest: string | null;
  updated_at: Generated<Date>;
}

export interface ReductionTable {
  workflow_id: string;
  subject_id: string;
  collection_id: string;
  image_id: string;
  state: JsonIn<Record<string, unknown>>;
  result: JsonIn<Record<string, unknown>>;
  classifications: number;
  through_id: BigintText;
  task: string | null;
  most_likely: string | null;
  agreement: number | null;
  swap_probability: number | null;
  updated_at: Generated<Date>;
  /** Taken from reductions_change_seq at every write: what the results rules have not evaluated yet is above their mark. */
  change_seq: Generated<number>;
}

export interface ResultsRulesTable {
  collection_id: string;
  source: string;
  digest: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  updated_by: string;
  updated_at: Generated<Date>;
  /** The highest reductions.change_seq these rules have evaluated (0: none yet, or the file changed). */
  evaluated_seq: ColumnType<number, number | undefined, number>;
}

export interface ResultEffectTable {
  id: Generated<string>;
  collection_id: string;
  workflow_id: string;
  subject_id: string;
  image_id: string;
  rule_id: string;
  kind: 'retire_subject' | 'add_subject_to_set' | 'notify' | 'flag';
  target: ColumnType<string, string | undefined, string>;
  state: ColumnType<'intent' | 'sending' | 'ambiguous' | 'done' | 'failed' | 'undone', 'intent' | 'sending' | 'ambiguous' | 'done' | 'failed' | 'undone' | undefined, 'intent' | 'sending' | 'ambiguous' | 'done' | 'failed' | 'undone'>;
  attempts: ColumnType<number, number | undefined, number>;
  error: string | null;
  detail: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  done_at: Timestamp | null;
}

/** A Caesar endpoint of a collection (migration 20261210090000): only the secret's sha256. */
export interface CaesarEndpointTable {
  collection_id: string;
  secret_hash: string;
  created_by: string;
  created_at: Generated<Date>;
  /** bigint: read with ::text or Number(). */
  stored: ColumnType<string, string | number | undefined, string | number>;
  ignored: ColumnType<string, string | number | undefined, string | number>;
  last_received_at: Timestamp | null;
}

/** The latest Caesar reduction per workflow, subject and reducer key. */
export interface CaesarReductionTable {
  workflow_id: string;
  subject_id: string;
  reducer_key: string;
  collection_id: string;
  image_id: string;
  data: ColumnType<unknown, string | null, string | null>;
  caesar_id: string | null;
  caesar_updated_at: string;
  received_at: Generated<Date>;
}

export interface Database {
  collections: CollectionTable;
  artifacts: ArtifactTable;
  images: ImageTable;
  transitions: TransitionTable;
  batches: BatchTable;
  audit_log: AuditTable;
  sessions: SessionTable;
  login_flows: LoginFlowTable;
  delegations: DelegationTable;
  project_bindings: ProjectBindingTable;
  project_binding_requests: ProjectBindingRequestTable;
  upload_batches: UploadBatchTable;
  upload_items: UploadItemTable;
  events: EventTable;
  image_frames: ImageFrameTable;
  image_datasets: ImageDatasetTable;
  deployment: DeploymentTable;
  classification_cursors: ClassificationCursorTable;
  workflows: WorkflowTable;
  classifications: ClassificationTable;
  reduction_progress: ReductionProgressTable;
  reductions: ReductionTable;
  results_rules: ResultsRulesTable;
  result_effects: ResultEffectTable;
  caesar_endpoints: CaesarEndpointTable;
  caesar_reductions: CaesarReductionTable;
}

export type NewCollection = Insertable<CollectionTable>;
export type CollectionUpdate = Updateable<CollectionTable>;
export type Session = Selectable<SessionTable>;
export type { Artifact, AuditEntry, Batch, BridgeEvent, Collection, Delegation, Image, ImageDataset, ImageFrame, Transition, UploadBatch, UploadItem } from '../domain/model.js';

/*
 * The domain's record types (src/domain/model.ts) are written out by hand so
 * the domain needs no database types; these checks fail to compile the
 * moment a table and its record drift apart, in either direction.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type SchemaMatchesModel = [
  Check<Same<Selectable<CollectionTable>, M.Collection>>,
  Check<Same<Selectable<ArtifactTable>, M.Artifact>>,
  Check<Same<Selectable<ImageTable>, M.Image>>,
  Check<Same<Selectable<BatchTable>, M.Batch>>,
  Check<Same<Selectable<AuditTable>, M.AuditEntry>>,
  Check<Same<Selectable<DelegationTable>, M.Delegation>>,
  Check<Same<Selectable<ProjectBindingTable>, M.ProjectBinding>>,
  Check<Same<Selectable<ProjectBindingRequestTable>, M.ProjectBindingRequest>>,
  Check<Same<Selectable<UploadBatchTable>, M.UploadBatch>>,
  Check<Same<Selectable<UploadItemTable>, M.UploadItem>>,
  Check<Same<Selectable<EventTable>, M.BridgeEvent>>,
  Check<Same<Selectable<TransitionTable>, M.Transition>>,
  Check<Same<Selectable<ImageFrameTable>, M.ImageFrame>>,
  Check<Same<Selectable<ImageDatasetTable>, M.ImageDataset>>,
];
