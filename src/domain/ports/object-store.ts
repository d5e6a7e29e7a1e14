/** The object store: a private quarantine area and a public area Zooniverse fetches from. */

/** Where an object lives: quarantine is private, public is served to Zooniverse. */
export type StoreArea = 'quarantine' | 'public';

export interface PutOptions {
  contentType: string;
  /** e.g. 'public, max-age=31536000, immutable' for content-addressed public keys. */
  cacheControl?: string;
  /**
   * hex SHA-256 of the body when the caller has already computed it (it
   * content-addresses its keys), so the store need not hash the bytes again.
   * Trusted, not re-computed: re-hashing is the cost this saves, and the
   * hash comes from the same process and the same bytes. A wrong one is still
   * caught before anything is public: S3 checks it on upload (and on every
   * read), and the filesystem store re-hashes what it copies to the public area.
   */
  sha256?: string;
}

export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
  /** hex SHA-256 of the bytes, computed by the store on put and checked by the backend where it can. */
  sha256: string;
}

export interface GetOptions {
  /**
   * Memory for the body, asked for once its size is known: a conversion
   * reads artifacts straight into the shared memory its threads read, where
   * copying them there cost a second allocation of every artifact and the
   * garbage collections it brought (bench:scale). The body is this memory,
   * filled exactly.
   */
  alloc?: (size: number) => Uint8Array;
}

export interface ObjectStore {
  put(area: StoreArea, key: string, body: Uint8Array, opts: PutOptions): Promise<StoredObject>;
  /** Throws NotFoundError when absent. */
  get(area: StoreArea, key: string, opts?: GetOptions): Promise<{ body: Uint8Array; contentType: string }>;
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
