import type { RawClassification } from '../../results/types.js';
import { UpstreamError } from '../errors.js';

/*
 * Where volunteers' classifications come back from (issue 14, the results
 * loop), without HTTP. The wire facts are shared/reference/results.md; the
 * adapter is src/adapters/panoptes/classification-source.ts.
 *
 * Two ways, with different promises:
 *
 * - The incremental pull (pullSince) asks Panoptes for the project's
 *   classifications with an id above a cursor, oldest first, a page at a
 *   time. It is the only supported incremental feed. It needs the account to
 *   be owner or collaborator of the project and the token to carry the
 *   'classification' scope; for any other project Panoptes answers an empty
 *   listing, not an error, so "nothing new" and "no rights" look alike
 *   (check the project binding's rights elsewhere). Annotations come in the
 *   stored form (a question's answer is its index), with no user name,
 *   gold-standard flag or subject metadata: the bridge maps subjects back
 *   through its own record of the subjects it created.
 *
 * - The export is a CSV of every complete classification of a project or
 *   workflow, built asynchronously by Panoptes, with labels instead of
 *   indices and the subjects' metadata in subject_data. Panoptes allows one
 *   export per resource and type per 24 h and does not refuse an extra
 *   request: it accepts it (201), marks the export 'creating' again, and
 *   silently cancels the job (panoptes#2623), which also hides the previous,
 *   still valid export behind 'creating'. So the adapter never sends a
 *   request inside the window: requestExport reads the export first and
 *   answers 'rate_limited' (or 'creating') with the time a request will be
 *   honoured. Whether an export answers a request is read from Panoptes' own
 *   clock: it is 'ready' and its updatedAt is at or after the request's
 *   requestedAt (both times come from Panoptes, so clock skew cannot fool
 *   it). An export still 'creating' a day after its request was either
 *   cancelled or is very slow (panoptes#2307); requesting again then is
 *   safe, and requestExport does so.
 *
 * Never a volunteer's IP address: the API does not send one, the export's
 * user_ip column is dropped by the CSV reader, and RawClassification has no
 * field for it.
 */

/** One page of the incremental pull. */
export interface ClassificationPage {
  /** Oldest first, every id above the cursor the page was asked with. */
  classifications: RawClassification[];
  /** The highest id of the page: store it, and resume with it as lastId. */
  cursor: string;
}

export interface PullOptions {
  /** Classifications per request; Panoptes caps it at 100 (the default). */
  pageSize?: number;
  /** Stop after this many pages, so one job does a bounded amount of work and queues the next. */
  maxPages?: number;
}

/** What an export covers: every classification of a project, or of one workflow. */
export interface ExportResource {
  kind: 'project' | 'workflow';
  id: string;
}

/** The export as Panoptes shows it now. */
export interface ExportStatus {
  /** 'none': never requested. 'creating': requested, being built, or cancelled by the rate limit (they look alike). */
  state: 'none' | 'creating' | 'ready';
  /** Panoptes' time of the last request or of becoming ready (ISO); null for 'none'. */
  updatedAt: string | null;
  /** From when a new request will not be silently cancelled (ISO): now when none exists. */
  nextPossibleAt: string;
}

/** The answer to requestExport. */
export interface ExportRequest {
  /**
   * 'requested': sent now, and honoured (the window was free).
   * 'ready': an export built at or after `notOlderThan` exists; nothing was sent.
   * 'creating': an export requested less than a day ago is still being built (or was cancelled); nothing was sent.
   * 'rate_limited': a ready export exists but is older than wanted, and a request now would be cancelled; nothing was sent.
   */
  state: 'requested' | 'creating' | 'ready' | 'rate_limited';
  /** Panoptes' time of the request (ours for 'requested', the pending one for 'creating'); compare ExportStatus.updatedAt with it. */
  requestedAt?: string;
  /** When a new request will be honoured (ISO). */
  nextPossibleAt: string;
  /** Panoptes' time the ready export was built ('ready' and 'rate_limited'). */
  readyAt?: string;
}

/** The export's CSV, inflated, as it downloads. */
export interface ExportStream extends AsyncIterable<Buffer> {
  /** Which export this is: Panoptes' updatedAt of the ready export. */
  readonly updatedAt: string;
}

/** openExport was asked for an export that is not ready. */
export class ExportNotReadyError extends UpstreamError {
  override readonly name = 'UpstreamError';
}

/**
 * The download ended before the end of the compressed file (a cut
 * connection, a file cut short in storage, a corrupt gzip stream). Raised
 * from the stream instead of letting a partial CSV pass for the whole
 * export; downloading again (with a fresh link) may succeed.
 */
export class ExportIncompleteError extends UpstreamError {
  override readonly name = 'UpstreamError';
}

/** A workflow's task definitions as Panoptes shows them (GET /api/workflows/ID); fields it leaves out are null or empty. */
export interface WorkflowDefinition {
  id: string;
  projectId: string | null;
  version: string | null;
  displayName: string | null;
  /** Panoptes workflow.tasks: answer labels, tools, survey choices. */
  tasks: Record<string, unknown>;
}

export interface ClassificationSource {
  /**
   * A workflow's task definitions (the API pull sends answer indices; these
   * give the labels). Undefined when Panoptes has no such workflow for the
   * account. Tolerant: a field Panoptes leaves out is null, never an error.
   */
  workflow(workflowId: string): Promise<WorkflowDefinition | undefined>;

  /**
   * The project's classifications with an id above `lastId` (null: from the
   * first), a page at a time, oldest first; ends at the first empty page. A
   * 429 or 503 is waited out inside (Retry-After); a 422 (no project id) is a
   * PanoptesRefused.
   */
  pullSince(projectId: string, lastId: string | null, opts?: PullOptions): AsyncIterable<ClassificationPage>;

  /**
   * Asks for a new export unless that would be pointless (one built at or
   * after `notOlderThan` exists) or cancelled (one was requested or built
   * less than a day ago). Never sends a request Panoptes would cancel.
   */
  requestExport(resource: ExportResource, opts?: { notOlderThan?: string }): Promise<ExportRequest>;

  exportStatus(resource: ExportResource): Promise<ExportStatus>;

  /**
   * The ready export's CSV, inflated and streamed (never held whole). The
   * stream throws ExportIncompleteError if the file ends early;
   * ExportNotReadyError when there is no ready export.
   */
  openExport(resource: ExportResource): Promise<ExportStream>;
}
