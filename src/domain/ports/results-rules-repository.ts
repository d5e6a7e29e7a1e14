/** A collection's stored results rules file (table results_rules). */
export interface StoredResultsRules {
  collection_id: string;
  source: string;
  /** sha256 of source, hex. */
  digest: string;
  enabled: boolean;
  updated_by: string;
  updated_at: Date;
  /** The highest reduction change these rules have evaluated (StoredReduction.change_seq). */
  evaluated_seq: number;
}

/** One subject's current reduction, as the rules read it (table reductions, written by the reducer). */
export interface StoredReduction {
  workflow_id: string;
  subject_id: string;
  image_id: string;
  /** The SubjectReduction JSON (src/results). */
  result: Record<string, unknown>;
  updated_at: Date;
  /** Grows with every write of the reduction (see ResultsRulesRepository.reductionsOf). */
  change_seq: number;
}

/**
 * The PI's results rules, one file per collection, stored switched off
 * until someone enables them (after a dry run), and the reductions they are
 * evaluated on.
 */
export interface ResultsRulesRepository {
  get(collectionId: string): Promise<StoredResultsRules | undefined>;
  /** Stores (or replaces) the file, always switched off: a new text is dry-run before it acts. */
  put(collectionId: string, source: string, digest: string, actor: string): Promise<StoredResultsRules>;
  /** Switches the stored file on or off; false when the collection has none. */
  setEnabled(collectionId: string, enabled: boolean, actor: string): Promise<boolean>;
  /** Ids of collections whose rules are enabled. */
  enabledCollections(): Promise<string[]>;
  /** The collection's reductions (only `workflowId`'s when given; only those written after `changedAfter` when given), by workflow then subject. */
  reductionsOf(collectionId: string, workflowId?: string, changedAfter?: number): Promise<StoredReduction[]>;
  /** Records that the rules with this digest have evaluated every reduction up to `seq` (nothing when the file changed meanwhile). */
  markEvaluated(collectionId: string, digest: string, seq: number): Promise<void>;
}
