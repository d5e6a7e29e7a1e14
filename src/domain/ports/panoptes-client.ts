import { NotFoundError, UpstreamError, UpstreamRefusedError } from '../errors.js';

/*
 * What the domain needs from Zooniverse's Panoptes API, without HTTP.
 * The wire facts are shared/reference/zooniverse.md; the adapter is
 * src/adapters/panoptes/panoptes-client.ts.
 *
 * Duplicates are the problem this port is shaped around: Panoptes does not
 * deduplicate subjects, and a create that times out may still have been
 * committed. So the three creating calls never retry a request whose fate is
 * unknown; they throw AmbiguousRequestError and the caller reconciles
 * (findSubjects / findSubjectSets / findSubjectSetImports) before sending it
 * again. Everything else is idempotent and retried inside the adapter.
 *
 * Failures are typed (below): the adapter is the only place that knows
 * which HTTP answer means what, and the domain asks `instanceof`, never a
 * status number. Each type extends the service-wide error the job layer and
 * the API already understand (NotFoundError, UpstreamError: retry later,
 * UpstreamRefusedError: retrying cannot help), and keeps that class's name,
 * which the API shows as the problem's title.
 *
 * Finding subjects again (read from the Panoptes source, 2026):
 * - GET /api/subjects?subject_set_id=ID lists the members of a set (also a
 *   comma list of set ids), paginated, sorted by id ascending unless asked
 *   otherwise; project_id and id (comma list) are the other filters.
 * - external_id is returned on every subject but is NOT a filter: the
 *   serializer declares no can_filter_by, and unknown query parameters are
 *   silently ignored, so ?external_id=X returns the whole listing. Nor can
 *   subjects be filtered by metadata (only subject sets can, metadata.KEY=V).
 *   Matching on external_id or metadata is therefore done by the adapter
 *   over the listing of a set (or project), never trusted to the server.
 * - Reconciling one subject at a time costs a full listing of its set; a
 *   caller with many ambiguous creates should list the set once and match
 *   them all against it.
 */

/**
 * The requests that are never resent blindly when their fate is unknown: the
 * three creates here, and the two effects of the results loop
 * (zooniverse-effects.ts), which are reconciled by reading Panoptes so that
 * each is applied once.
 */
export type PanoptesOperation = 'createSubject' | 'createSubjectSet' | 'createSubjectSetImport' | 'retireSubjects' | 'addSubjectsToSet';

/**
 * A creating request that may or may not have been committed (a timeout, a
 * connection lost after the request was sent, HTTP 500/502/504). Retrying it
 * blindly is how real projects end up with duplicate subjects: look for what
 * it would have created first. It is an UpstreamError so a job layer that
 * knows nothing of it still retries the job, which then reconciles.
 */
export class AmbiguousRequestError extends UpstreamError {
  constructor(
    message: string,
    readonly operation: PanoptesOperation,
    retryAfterMs?: number,
    detail?: Record<string, unknown>,
  ) {
    super(message, retryAfterMs, { operation, ...detail });
  }
}

/** Panoptes has no such resource (or will not show it to the account). */
export class PanoptesNotFound extends NotFoundError {
  override readonly name = 'NotFoundError';
}

/**
 * The resource kept changing under the request (a concurrent write, or an
 * If-Match gone stale), longer than the adapter's own retries. Another try
 * later starts from a fresh read.
 */
export class PanoptesConflict extends UpstreamError {
  override readonly name = 'UpstreamError';
}

/**
 * Panoptes asked the bridge to come back later (throttling, or a feature
 * switched off for a while), past the adapter's own retries or for longer
 * than it waits in-process. Refused before anything ran, so it is safe to
 * send again, creates included; retryAfterMs is the wait it asked for.
 */
export class PanoptesRateLimited extends UpstreamError {
  override readonly name = 'UpstreamError';
}

/**
 * Panoptes answered, but in a form the bridge cannot use: a field the
 * bridge needs is missing or of the wrong type (fields it does not use never
 * cause this). Asking again gets the same answer, so the work stops with
 * this message for the PI instead of retrying without end; a person retries
 * it once Panoptes (or the bridge) is fixed.
 */
export class PanoptesUnreadable extends UpstreamRefusedError {
  override readonly name = 'UpstreamRefusedError';
}

/** Why Panoptes refused for good. */
export type PanoptesRefusal =
  /** The bridge's token or client credentials (a token refused as soon as it was issued). */
  | 'credentials'
  /** The account may not do this: no permission on the project, an import over its row limit, a subject it may not delete. */
  | 'forbidden'
  /** The request is invalid as sent: JSON Panoptes cannot read, a location type it does not allow. */
  | 'invalid'
  /** The request is well-formed but names something Panoptes will not act on: an id that is no longer a subject, a manifest it could not fetch. */
  | 'unprocessable'
  | 'other';

/** Panoptes refused for good: the same request will be refused again. */
export class PanoptesRefused extends UpstreamRefusedError {
  override readonly name = 'UpstreamRefusedError';
  constructor(
    message: string,
    readonly reason: PanoptesRefusal,
    detail?: Record<string, unknown>,
  ) {
    super(message, detail);
  }
}

/**
 * The account has reached its subject_limit ("User has uploaded N subjects of
 * M maximum"). Deleting subjects does not give any back; only Zooniverse can
 * raise the limit. The numbers are absent when the message could not be read.
 */
export class SubjectLimitError extends UpstreamRefusedError {
  constructor(
    message: string,
    readonly uploaded?: number,
    readonly limit?: number,
  ) {
    super(message, { uploaded, limit });
  }
}

export interface PanoptesUser {
  id: string;
  login: string;
  subjectLimit: number;
  /** Cached by Panoptes for about an hour, so it lags; never decreases on delete. */
  uploadedSubjectsCount: number;
}

export interface PanoptesProject {
  id: string;
  displayName: string;
  slug: string;
  live: boolean;
  launchApproved: boolean;
}

export interface PanoptesSubjectSet {
  id: string;
  projectId: string;
  displayName: string;
  metadata: Record<string, unknown>;
  /** Recounted by a background worker in Panoptes: it trails links and unlinks. */
  setMemberSubjectsCount: number;
  /**
   * Workflow id -> share of the set's subjects retired in that workflow
   * (0..1), recomputed by a Panoptes worker at most once a minute. Empty
   * while the set is in no workflow.
   */
  completeness: Record<string, number>;
  /** Null when Panoptes leaves it out: nothing here depends on it. */
  createdAt: string | null;
  updatedAt: string | null;
}

/** One frame of a subject: exactly one mime type mapped to a public URL. */
export type SubjectLocation = Record<string, string>;

export interface PanoptesSubject {
  id: string;
  projectId: string;
  externalId: string | null;
  /** Object form (externally hosted): the URLs come back unchanged, in order. */
  locations: SubjectLocation[];
  metadata: Record<string, unknown>;
  subjectSetIds: string[];
  createdAt: string | null;
  updatedAt: string | null;
}

export interface NewSubject {
  projectId: string;
  /** Linked in the same transaction as the create, so a committed subject is already a member. */
  subjectSetIds?: string[];
  locations: SubjectLocation[];
  metadata: Record<string, unknown>;
  /** The bridge's own key for the subject; the handle for reconciliation. */
  externalId?: string;
}

export interface SubjectQuery {
  /** At least one of subjectSetId, projectId, ids is needed: they are what the server filters on. */
  subjectSetId?: string;
  projectId?: string;
  ids?: readonly string[];
  /** Matched by the adapter over the listing (Panoptes cannot filter on it). */
  externalIds?: readonly string[];
  /** Every key must be equal (after String()) on the subject; matched by the adapter. */
  metadata?: Record<string, string | number | boolean>;
}

export interface PanoptesSubjectSetImport {
  id: string;
  subjectSetId: string;
  sourceUrl: string;
  /** Rows in the manifest, counted by Panoptes when the import was created; null while it has not said. */
  manifestCount: number | null;
  /** Rows imported so far; updated in steps, not per row. */
  importedCount: number;
  /** Rows Panoptes could not import. */
  failedCount: number;
  /** (importedCount + failedCount) / manifestCount in [0, 1]; 0 while manifestCount is unknown. */
  progress: number;
  /**
   * Derived here: Panoptes has no state field. There is no 'failed' either:
   * the import worker is not retried, so an import whose worker died stays
   * below manifestCount forever. Callers decide it is dead when updatedAt
   * stops moving, and then list the set by external_id. Panoptes does not
   * return which rows failed (it stores them but does not serialize them).
   * Completed means importedCount + failedCount reached a known manifestCount
   * (Panoptes' serializer); an unknown manifestCount is never complete.
   */
  state: 'pending' | 'running' | 'completed';
  /** Null when Panoptes leaves them out; then the caller's own clock tells a stall. */
  createdAt: string | null;
  updatedAt: string | null;
}

export interface PanoptesClient {
  /** The account the credentials act for; check its subject_limit before starting, not after failing. */
  me(): Promise<PanoptesUser>;
  getProject(id: string): Promise<PanoptesProject>;

  /** Not retried when the outcome is unknown: AmbiguousRequestError, then findSubjectSets by name. */
  createSubjectSet(input: { projectId: string; displayName: string; metadata?: Record<string, unknown> }): Promise<PanoptesSubjectSet>;
  getSubjectSet(id: string): Promise<PanoptesSubjectSet>;
  /** All pages; displayName is an exact match done by the server. */
  findSubjectSets(query: { projectId: string; displayName?: string }): Promise<PanoptesSubjectSet[]>;

  /**
   * Not retried when the outcome is unknown: AmbiguousRequestError, then
   * findSubjects({subjectSetId, externalIds}). SubjectLimitError when the
   * account is full.
   */
  createSubject(input: NewSubject): Promise<PanoptesSubject>;
  getSubject(id: string): Promise<PanoptesSubject>;
  /** Pages through the listing lazily, in id order. */
  findSubjects(query: SubjectQuery): AsyncIterable<PanoptesSubject>;

  /** In chunks of 100; linking a member again is harmless, so this is safe to repeat. */
  linkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void>;
  /** Removes set membership only; the subjects stay (and still count against the limit). */
  unlinkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void>;
  /** 'absent' when there was nothing to delete. Does not refund the upload count. */
  deleteSubject(id: string): Promise<'deleted' | 'absent'>;

  /**
   * Panoptes downloads the CSV and counts its rows before answering (over
   * the row limit: refused). Re-importing is safe (external_id upserts within
   * the set), so after AmbiguousRequestError findSubjectSetImports or simply
   * import again.
   */
  createSubjectSetImport(input: { subjectSetId: string; sourceUrl: string }): Promise<PanoptesSubjectSetImport>;
  getSubjectSetImport(id: string): Promise<PanoptesSubjectSetImport>;
  findSubjectSetImports(query: { subjectSetId: string }): Promise<PanoptesSubjectSetImport[]>;
}
