/**
 * Each collection's running reduction (issue 14): how far it has read the
 * arrivals (reduced_seq), the SWAP volunteers' skills it shares across
 * subjects, the digest of the options its states were built with, and per
 * subject its JSON state, its reduction and the summary columns the results
 * page filters on. Implemented in src/db/repositories/reductions.ts.
 */

export interface ReductionProgress {
  reducedSeq: string;
  swapVolunteers: Record<string, unknown> | null;
  optionsDigest: string | null;
}

export interface StoredReduction {
  workflowId: string;
  subjectId: string;
  collectionId: string;
  imageId: string;
  /** The subject's running state (src/results SubjectState). */
  state: Record<string, unknown>;
  /** Its reduction (src/results SubjectReduction). */
  result: Record<string, unknown>;
  classifications: number;
  /** The highest classification id applied. */
  throughId: string;
  /** The first question task and its consensus; null when the subject has none. */
  task: string | null;
  mostLikely: string | null;
  agreement: number | null;
  swapProbability: number | null;
}

export interface ReductionsRepository {
  progress(collectionId: string): Promise<ReductionProgress | undefined>;
  /**
   * Records how far the reduction is. A recompute mark (markForRecompute) set
   * while an incremental run was going survives that run's saves; only a
   * save with `recomputed` (the full recompute's own) clears it.
   */
  saveProgress(collectionId: string, p: ReductionProgress, opts?: { recomputed?: boolean }): Promise<void>;
  /** Stored states of these subjects (missing ones are absent). */
  states(collectionId: string, subjects: { workflowId: string; subjectId: string }[]): Promise<StoredReduction[]>;
  upsert(rows: StoredReduction[]): Promise<void>;
  /** Drops every reduction of the collection (a full recompute writes them again in the same transaction). */
  clear(collectionId: string): Promise<void>;
  /** A page of the collection's reductions in (workflow, subject) order. */
  list(collectionId: string, opts: { after?: { workflowId: string; subjectId: string }; limit: number }): Promise<StoredReduction[]>;
  count(collectionId: string): Promise<number>;
  /** Asks for a full recompute: the next reduction run of the collection throws its reductions away and reduces everything again. */
  markForRecompute(collectionId: string): Promise<void>;
  /** Collections with classifications not reduced yet, or marked for recompute, whose reduction has not moved since `olderThan` (its job was lost). */
  behind(olderThan: Date, limit: number): Promise<string[]>;
  /** The highest through_id of the collection's reductions (null when none): SWAP needs arrivals above it. */
  maxThroughId(collectionId: string): Promise<string | null>;
}
