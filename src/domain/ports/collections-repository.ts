import type { Collection, CollectionStatus, SourceKind } from '../model.js';
import type { Page } from './repositories.js';

export interface NewCollectionInput {
  owner: string;
  repository: string;
  name: string;
  sourceKind: SourceKind;
  sourceRoot: string | null;
  datasetType: string;
  rgb: string[];
  colour: Record<string, unknown>;
  zooniverseProjectId: string | null;
  subjectSetNaming: string | null;
  pollIntervalSeconds: number;
  /**
   * The data release as the system derived it (domain/releases.ts), never
   * the PI's word. Without it the row is stored as an unmapped release
   * (`unknown`: proprietary, embargoed), the least permissive reading.
   */
  release?: { name: string; source: 'mapping' | 'admin' | 'unmapped'; proprietary: boolean; embargoHours: number };
  /** The registering PI's data_rights claim, kept for the policy (workers have no session). */
  ownerDataRights?: string[];
}

/** The settings a PI or admin may change after registration (JSON fields as values, not text). */
export type CollectionChanges = Partial<
  Pick<
    Collection,
    | 'zooniverse_project_id'
    | 'subject_set_naming'
    | 'poll_interval_seconds'
    | 'upload_mode'
    | 'max_batch_size'
    | 'subject_set_per'
    | 'extra_metadata'
    | 'subject_frames'
    | 'one_incomplete_set'
    | 'colour'
    | 'rgb'
    | 'panel_approval'
    | 'data_release'
    | 'release_source'
    | 'release_proprietary'
    | 'release_embargo_hours'
    | 'owner_data_rights'
    | 'webhook_url'
    | 'webhook_secret'
    | 'publish_delay_seconds'
  >
>;

export interface StateCounts {
  artifacts: Record<string, number>;
  images: Record<string, number>;
}

export interface CollectionsRepository {
  /** Throws ConflictError (field `name`) when the repository already has a collection of that name. */
  create(c: NewCollectionInput, actor: string): Promise<Collection>;
  /** Throws NotFoundError when absent. */
  get(id: string): Promise<Collection>;
  find(id: string): Promise<Collection | undefined>;
  /** Collections whose id or name is `idOrName` (one name may be registered in several repositories). */
  findByIdOrName(idOrName: string): Promise<Collection[]>;
  /** Locks the collection's row until the transaction ends (serialises work on one collection). Throws NotFoundError. */
  lock(id: string): Promise<Collection>;
  list(filter?: { owner?: string; status?: CollectionStatus }): Promise<Collection[]>;
  /** One page in registration order, keyset-paged: `after` is the previous page's `next`. */
  page(filter: { owner?: string; after?: string; limit: number }): Promise<Page<Collection>>;
  update(id: string, changes: CollectionChanges): Promise<void>;
  recordPoll(id: string, result: { cursor?: string | null; error?: string | null }): Promise<void>;
  /** Moves the collection's status if it is still `from` (logged as a transition); false when it had moved. */
  setStatus(id: string, from: CollectionStatus, to: CollectionStatus, actor: string, reason?: string | null): Promise<boolean>;
  countByState(id: string): Promise<StateCounts>;
  /** Image counts per state of several collections at once (listing pages). */
  imageCountsOf(ids: string[]): Promise<Map<string, Record<string, number>>>;
  /**
   * From the collections' extra-metadata tables: the rows under `keys` that
   * carry an object id (the first of `columns` a row has), each with how many
   * rows of its table carry the same id. Read in the database, so a
   * 20,000-row table is not shipped whole to name a page of images.
   */
  objectIdRows(collectionIds: string[], keys: string[], columns: readonly string[]): Promise<{ collectionId: string; key: string; objectId: string; uses: number }[]>;
  /** Deletes the collection; its artifacts, images, batches and ledger go with it. */
  delete(id: string): Promise<void>;
}
