/**
 * What the PI's results view reads (issue 14): each subject's stored
 * reduction joined to its image, dataset links, and the result effects that
 * were done for it (retirement and why, flags). Read-only: the reductions are
 * written by the reduction job and the effects by the rules job.
 */

/** Filters of the results listing; every one optional. */
export interface ResultsFilter {
  /** Only subjects whose reduction has this task; with it, `answer` and the agreement bounds read this task's consensus. */
  task?: string;
  /** The consensus answer (most_likely): of `task`, else of the first question task (the summary columns). */
  answer?: string;
  minAgreement?: number;
  maxAgreement?: number;
  /** Subjects a retire effect is done for (true), or not (false). */
  retired?: boolean;
  /** Subjects with a done flag effect (true), or none (false). */
  flagged?: boolean;
}

/** Listing order: subject id (stable), or agreement ascending/descending (no agreement sorts as lowest). */
export type ResultsOrder = 'subject' | 'agreement' | '-agreement';

/** Where a keyset page starts: just after this row in the listing order. */
export interface ResultsCursor {
  agreement: number | null;
  workflowId: string;
  subjectId: string;
}

export interface ResultsPageQuery extends ResultsFilter {
  collectionId: string;
  order: ResultsOrder;
  after?: ResultsCursor;
  limit: number;
}

/** One stored reduction with what the results row needs from around it. */
export interface StoredResult {
  workflowId: string;
  subjectId: string;
  imageId: string;
  classifications: number;
  /** A SubjectReduction as JSON (src/results). */
  result: Record<string, unknown>;
  /** The listing order's agreement (of `task` when filtered by one), for the cursor. */
  sortAgreement: number | null;
  swapProbability: number | null;
  groupKey: string;
  stampIndex: number;
  bands: string[];
  ra: number | null;
  dec: number | null;
  quarantineKey: string;
  /** The reason of the first done retire effect, null when not retired. */
  retiredReason: string | null;
  /** Labels of done flag effects (the rule id when a flag has no label), sorted. */
  flags: string[];
}

/** A task seen in a collection's reductions, with the answer labels (or survey choices) seen. */
export interface SeenTask {
  task: string;
  kind: string;
  labels: string[];
}

export interface ResultsReadRepository {
  page(q: ResultsPageQuery): Promise<StoredResult[]>;
  count(collectionId: string, f: ResultsFilter): Promise<number>;
  /** How many matching subjects fall in each of `bins` equal agreement bins over [0, 1] (1 in the last), and how many have no agreement. */
  agreementHistogram(collectionId: string, f: ResultsFilter, bins: number): Promise<{ counts: number[]; none: number }>;
  /** Tasks and labels found in the stored reductions of the collection. */
  seenTasks(collectionId: string): Promise<SeenTask[]>;
  /** Task definitions of the workflows the collection's reductions come from (answer order). */
  workflowTasks(collectionId: string): Promise<{ workflowId: string; tasks: Record<string, unknown> }[]>;
}
