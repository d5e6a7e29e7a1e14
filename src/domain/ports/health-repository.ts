/** What the readiness probe and the metrics ask of the database, across all collections. */
export interface HealthRepository {
  /** Resolves when the database answers a trivial query; throws otherwise. */
  ping(): Promise<void>;
  /** How many rows of the table are in each state. */
  countByState(table: 'artifacts' | 'images' | 'upload_batches' | 'upload_items'): Promise<Record<string, number>>;
}
