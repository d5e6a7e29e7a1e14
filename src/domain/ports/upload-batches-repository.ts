/** The upload ledger's batches, as the API needs them (the upload flow itself still reads the tables directly). */
export interface UploadBatchesRepository {
  /** The collection an upload batch belongs to; undefined when there is no such batch. */
  collectionOf(uploadBatchId: string): Promise<string | undefined>;
}
