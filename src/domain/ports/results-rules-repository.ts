/** A collection's stored results rules file (table results_rules). */
export interface StoredResultsRules {
  collection_id: string;
  source: string;
  /** sha256 of source, hex. */
  digest: string;
  enabled: boolean;
  updated_by: string;
  updated_at: Date;
}

/** One subject's current reduction, as the rules read it (table reductions, written by the reducer). */
export interface StoredReduction {
  workflow_id: string;
  subject_id: string;
  image_id: string;
  /** The SubjectReduction JSON (src/results). */
  result: Record<string, unknown>;
  updated_at: Date;
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
  /** The collection's reductions (only `workflowId`'s when given), by workflow then subject. */
  reductionsOf(collectionId: string, workflowId?: string): Promise<StoredReduction[]>;
}
