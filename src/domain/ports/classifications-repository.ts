/**
 * Volunteers' classifications of the bridge's own subjects (issue 14, the
 * results loop): each project's pull cursor and export backfill state, the
 * workflows' task definitions, and the stored classifications themselves.
 * Implemented on Kysely in src/db/repositories/classifications.ts.
 *
 * Classification ids are decimal strings (bigint in the table, read back as
 * text). A row is one classification of one subject; inserting is
 * idempotent on (id, subject_id), so a page delivered twice, or a row both
 * pulled and found in an export, is stored once and counted once.
 */

/** One classification of one of the bridge's subjects, as stored. Never an IP address. */
export interface NewClassification {
  id: string;
  subjectId: string;
  projectId: string;
  workflowId: string;
  workflowVersion: string | null;
  collectionId: string;
  imageId: string;
  /** Opaque volunteer key (src/results volunteerKey): 'user:<id>', 'name:not-logged-in-<hash>' or 'anon:<classification id>'. */
  volunteer: string;
  /** ISO time. */
  createdAt: string;
  annotations: unknown[];
  metadata: Record<string, unknown>;
  goldStandard: boolean | null;
  expert: boolean | null;
  source: 'pull' | 'export' | 'caesar';
}

export interface StoredClassification extends NewClassification {
  /** Arrival order (a bigserial, as text). */
  seq: string;
}

/** A project's pull cursor and export backfill, as stored. */
export interface ClassificationCursor {
  projectId: string;
  lastId: string | null;
  pulledAt: Date | null;
  lastError: string | null;
  kept: number;
  ignored: number;
  /** none | requested | creating | rate_limited | ready | loading | loaded | failed */
  exportState: string;
  /** Panoptes' time of the request the bridge waits on (ISO). */
  exportRequestedAt: string | null;
  exportNextPossibleAt: Date | null;
  /** Panoptes' updatedAt of the export last loaded. */
  exportLoadedUpdatedAt: string | null;
  exportRows: number;
  exportError: string | null;
  updatedAt: Date;
}

export interface ExportPatch {
  state?: string;
  requestedAt?: string | null;
  nextPossibleAt?: Date | null;
  loadedUpdatedAt?: string | null;
  rows?: number;
  error?: string | null;
}

/** Which of the bridge's images a Zooniverse subject shows. */
export interface BridgeSubject {
  subjectId: string;
  imageId: string;
  collectionId: string;
}

export interface StoredWorkflow {
  workflowId: string;
  projectId: string;
  version: string | null;
  displayName: string | null;
  tasks: Record<string, unknown>;
}

export interface ClassificationsRepository {
  cursor(projectId: string): Promise<ClassificationCursor | undefined>;
  /** Creates the project's cursor row if missing (nothing pulled yet). */
  ensureCursor(projectId: string): Promise<void>;
  /**
   * Stores the rows not stored yet (`on conflict do nothing`); answers the
   * classification ids newly stored and the collections that got rows.
   */
  insert(rows: NewClassification[]): Promise<{ ids: string[]; collections: string[] }>;
  /**
   * What only the export says about classifications already pulled: the
   * gold-standard and expert flags (the API pull does not send them).
   * Answers how many rows changed.
   */
  flagFromExport(goldIds: string[], expertIds: string[]): Promise<number>;
  /** One pulled page done: counts added, the cursor moved to `lastId`, pulled_at set, last_error cleared. */
  recordPage(projectId: string, p: { lastId: string; kept: number; ignored: number; at: Date }): Promise<void>;
  /** A pull run that found nothing new still says when it looked, and clears the last error. */
  recordPulled(projectId: string, at: Date): Promise<void>;
  recordPullError(projectId: string, error: string): Promise<void>;
  /** Classifications newly kept from an export (the pull's `kept` counts every stored classification). */
  addKept(projectId: string, kept: number): Promise<void>;
  updateExport(projectId: string, patch: ExportPatch): Promise<void>;
  /** The bridge's subjects among `subjectIds`, for collections bound to the project. */
  bridgeSubjects(projectId: string, subjectIds: string[]): Promise<BridgeSubject[]>;
  /** The bridge's images among `imageIds` (an export's '#bridge_image_id'), for collections bound to the project. */
  bridgeImages(projectId: string, imageIds: string[]): Promise<{ imageId: string; collectionId: string }[]>;
  /** Projects with at least one collection bound to them that has subjects on Zooniverse. */
  projectsToPull(): Promise<string[]>;
  /** The project a collection's subjects live in, if it has uploaded any. */
  projectOfCollection(collectionId: string): Promise<string | null>;
  knownWorkflows(workflowIds: string[]): Promise<string[]>;
  saveWorkflow(w: StoredWorkflow): Promise<void>;
  workflows(workflowIds: string[]): Promise<StoredWorkflow[]>;
  /** The workflows a collection's classifications come from. */
  workflowsOfCollection(collectionId: string): Promise<string[]>;
  /** What arrived after `afterSeq`, in arrival order, at most `limit` rows. */
  arrivals(collectionId: string, afterSeq: string, limit: number): Promise<StoredClassification[]>;
  /** The highest arrival seq of a collection ('0' when none). */
  lastSeq(collectionId: string): Promise<string>;
  /** Every stored classification of these subjects (of one workflow each), in id order. */
  ofSubjects(collectionId: string, subjects: { workflowId: string; subjectId: string }[]): Promise<StoredClassification[]>;
  /** A page of a collection's classifications in (id, subject) order, after the given key, up to seq `throughSeq`. */
  inIdOrder(collectionId: string, after: { id: string; subjectId: string } | null, throughSeq: string, limit: number): Promise<StoredClassification[]>;
  /** The collection's gold-standard classifications, in id order. */
  gold(collectionId: string): Promise<StoredClassification[]>;
  /** Stored rows per collection of the project (for the status page). */
  countByCollection(projectId: string): Promise<{ collectionId: string; classifications: number }[]>;
}
