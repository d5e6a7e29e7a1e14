/** retire_subject | add_subject_to_set | notify | flag */
export type ResultEffectKindName = 'retire_subject' | 'add_subject_to_set' | 'notify' | 'flag';
/**
 * intent (recorded, not sent) -> sending (committed before the request
 * leaves) -> done | ambiguous (sent, outcome unknown: read Panoptes back) |
 * failed (refused for good); done -> undone (set membership and flags only).
 */
export type ResultEffectState = 'intent' | 'sending' | 'ambiguous' | 'done' | 'failed' | 'undone';

/** One effect of a results rule on one subject: a row of the effects ledger. */
export interface ResultEffectRecord {
  id: string;
  collection_id: string;
  workflow_id: string;
  subject_id: string;
  image_id: string;
  rule_id: string;
  kind: ResultEffectKindName;
  /** Retirement: its reason; set: its id; flag: its label; notify: the rule id. */
  target: string;
  state: ResultEffectState;
  attempts: number;
  error: string | null;
  /** e.g. {reason} of a retirement, {values} the rule read, {message} of a notify. */
  detail: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  done_at: Date | null;
}

export interface NewResultEffect {
  collectionId: string;
  workflowId: string;
  subjectId: string;
  imageId: string;
  ruleId: string;
  kind: ResultEffectKindName;
  target: string;
  detail: Record<string, unknown>;
}

export interface ResultEffectFilter {
  state?: ResultEffectState;
  kind?: ResultEffectKindName;
  /** Keyset paging: rows created before this row (by created_at, id). */
  before?: string;
  limit: number;
}

/**
 * The ledger of results-rule effects: each effect is a row before it is
 * sent, unique on (workflow, subject, kind, target), so a rule that keeps
 * holding, a job run twice or two workers at once record it once. State
 * writes guard on the states they expect, so a late write never moves a
 * row backwards.
 */
export interface ResultEffectsRepository {
  /** Records intents; one already recorded (any state) is left as it is. Returns the rows inserted. */
  recordIntents(rows: NewResultEffect[]): Promise<ResultEffectRecord[]>;
  get(id: string): Promise<ResultEffectRecord | undefined>;
  /** Locks the row until the transaction ends. */
  lock(id: string): Promise<ResultEffectRecord | undefined>;
  /** The collection's rows in `states`, oldest first. */
  inStates(collectionId: string, states: ResultEffectState[]): Promise<ResultEffectRecord[]>;
  /** Moves rows from 'intent' to 'sending', one more attempt each; returns those moved. */
  claimForSending(ids: string[]): Promise<ResultEffectRecord[]>;
  /** Moves rows in `from` to `to`; `error` and `detail` (merged) when given; done_at on done. Returns those moved. */
  mark(ids: string[], from: ResultEffectState[], to: ResultEffectState, change?: { error?: string | null; detail?: Record<string, unknown> }): Promise<ResultEffectRecord[]>;
  /** The collection's rows, newest first, filtered. */
  list(collectionId: string, filter: ResultEffectFilter): Promise<ResultEffectRecord[]>;
  /** Collections with rules switched on and rows not settled (intent, sending, ambiguous) untouched since `olderThan`: for the sweep. */
  unsettledCollections(olderThan: Date): Promise<string[]>;
  /** Every row of the collection, or only of these subjects (for evaluation: what is already recorded), by workflow/subject. */
  allOf(collectionId: string, subjects?: { workflowId: string; subjectId: string }[]): Promise<Pick<ResultEffectRecord, 'id' | 'workflow_id' | 'subject_id' | 'kind' | 'target' | 'state' | 'rule_id'>[]>;
}
