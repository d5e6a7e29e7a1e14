/**
 * The ports the domain depends on. Adapters (src/adapters/...) implement
 * them; nothing here knows about Express, BullMQ, S3 or HTTP.
 */

/** Where an object lives: quarantine is private, public is served to Zooniverse. */
export type StoreArea = 'quarantine' | 'public';

export interface PutOptions {
  contentType: string;
  /** e.g. 'public, max-age=31536000, immutable' for content-addressed public keys. */
  cacheControl?: string;
}

export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
  /** hex SHA-256 of the bytes, computed by the store on put and checked by the backend where it can. */
  sha256: string;
}

export interface ObjectStore {
  put(area: StoreArea, key: string, body: Uint8Array, opts: PutOptions): Promise<StoredObject>;
  /** Throws NotFoundError when absent. */
  get(area: StoreArea, key: string): Promise<{ body: Uint8Array; contentType: string }>;
  head(area: StoreArea, key: string): Promise<StoredObject | undefined>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(area: StoreArea, key: string): Promise<void>;
  /** Server-side copy where the backend can (quarantine -> public on publish). */
  copy(from: { area: StoreArea; key: string }, to: { area: StoreArea; key: string }, opts: PutOptions): Promise<StoredObject>;
  /** The anonymous URL of a public object (never defined for quarantine). */
  publicUrl(key: string): string;
  /** Readiness: can we reach both areas? Throws with a clear message if not. */
  check(): Promise<void>;
}

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

export interface Clock {
  now(): Date;
}

/** The logging the domain needs (pino satisfies it). Never pass secrets. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
