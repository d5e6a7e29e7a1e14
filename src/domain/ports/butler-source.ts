/** Where a collection's datasets come from: a Butler server or a retrieve-artifacts prefix. */

/** A Butler dataset as the bridge needs it (from SerializedDatasetRef). */
export interface DatasetRef {
  /** Dataset UUID (Butler) or a stable id derived from the path (retrieve-artifacts prefix). */
  id: string;
  datasetType: string;
  run: string;
  /** band, tract, patch, skymap, ... with integers kept as numbers. */
  dataId: Record<string, string | number>;
  /** Position for cursors: ingest time (ISO) for the Butler, path order for a prefix. */
  cursor: string;
}

export interface Artifact {
  bytes: Uint8Array;
  /** Datastore path (or relative path under the prefix); gives the file name and extension. */
  path: string;
  size: number;
  /** hex SHA-256 of bytes. */
  sha256: string;
}

export interface DatasetQuery {
  repository: string;
  collection: string;
  datasetType: string;
  /**
   * Resume after this cursor; undefined = from the start. Listing is
   * at-least-once: a source may return datasets from shortly before the
   * cursor (clock skew, late commits), and the caller drops ids it has.
   */
  after?: string;
}

export interface ButlerSource {
  /** Datasets in the collection, in cursor order. Keep-alives and retries are the adapter's business. */
  listDatasets(q: DatasetQuery): AsyncIterable<DatasetRef>;
  /** The file behind a dataset. Presigned URLs are fetched fresh and never stored. */
  fetchArtifact(repository: string, ref: DatasetRef): Promise<Artifact>;
}
