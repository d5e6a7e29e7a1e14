import type { Page } from './repositories.js';

/** The kinds of work that can stop: a dataset that could not be retrieved or converted, one stamp of a file, an upload batch. */
export type StoppedKind = 'artifact' | 'stamp' | 'batch';

/**
 * One piece of stopped work, across all collections, as the admin's
 * dead-letter list shows it. The database is the record of failed work
 * (failed jobs leave the queue), so this is read from the tables.
 */
export interface StoppedWork {
  kind: StoppedKind;
  /** The artifact, image (stamp) or upload batch id. */
  id: string;
  collection_id: string;
  collection_name: string;
  owner: string;
  /** failed (artifacts, stamps), or failed, blocked or waiting (batches). */
  state: string;
  error: string | null;
  /** When it stopped (its row's last change). */
  at: Date;
  /** Tries so far: an artifact's retrievals, the most any subject of a batch took; null for stamps. */
  attempts: number | null;
  /** Artifacts: the Butler dataset. */
  dataset_id: string | null;
  dataset_type: string | null;
  data_id: Record<string, string | number> | null;
  /** Stamps: the file's group and the stamp's place in it. */
  group_key: string | null;
  stamp_index: number | null;
  /** Batches: their number in the collection and upload mode. */
  seq: number | null;
  mode: string | null;
}

/** Stopped work across every collection, newest first; reads only. */
export interface StoppedWorkRepository {
  /** A page of stopped work, newest first; `after` is the `next` of the page before (opaque). */
  list(f: { after?: string; limit: number }): Promise<Page<StoppedWork>>;
  /** How many of each kind there are in all. */
  counts(): Promise<Record<StoppedKind, number>>;
}
