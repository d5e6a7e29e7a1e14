import type { Artifact, ArtifactState } from '../model.js';
import type { DatasetRef } from './butler-source.js';
import type { Page } from './repositories.js';

export interface ArtifactsRepository {
  /** Inserts the refs not seen before; returns only the new rows (a dataset polled twice is one artifact). */
  insertDiscovered(collectionId: string, refs: DatasetRef[], actor: string): Promise<Artifact[]>;
  /**
   * A poll's datasets, in bulk: the refs not seen before become artifacts in
   * state `discovered`, each with its transition, all in the batch
   * `batchId()` names (called only when something is new). Returns the new
   * artifacts' ids; a dataset polled twice is one artifact. `noneKnown`:
   * the caller found the collection without artifacts (its first poll), so
   * the read of which refs are known is skipped (the insert still keeps a
   * dataset listed twice one artifact).
   */
  recordDiscovered(collectionId: string, refs: DatasetRef[], actor: string, batchId: () => Promise<string>, o?: { noneKnown?: boolean }): Promise<string[]>;
  /** Whether the collection has any artifact at all. */
  anyOf(collectionId: string): Promise<boolean>;
  /** Throws NotFoundError when absent. */
  get(id: string): Promise<Artifact>;
  find(id: string): Promise<Artifact | undefined>;
  markRetrieved(a: Artifact, v: { path: string; size: number; sha256: string; objectKey: string }, actor: string): Promise<boolean>;
  markFailed(a: Artifact, error: string, actor: string): Promise<boolean>;
  /** Moves an artifact's state if it is still `from`; false when it had moved. */
  transition(id: string, from: ArtifactState, to: ArtifactState, actor: string, changes?: { error?: string | null }, reason?: string | null): Promise<boolean>;
  bumpAttempts(id: string): Promise<void>;
  /** The collection's failed artifacts, oldest first. */
  failedOf(collectionId: string): Promise<Artifact[]>;
  /** The bands of one group, by band. */
  group(collectionId: string, groupKey: string): Promise<Artifact[]>;
  list(collectionId: string, filter: { state?: ArtifactState; after?: string; limit: number }): Promise<Page<Artifact>>;
  /** Work whose job may have been lost: discovered artifacts, groups with every band retrieved, images without a verdict. */
  sweepCandidates(olderThan: Date, limit: number): Promise<{ discovered: string[]; groups: { collectionId: string; groupKey: string }[]; unevaluated: string[] }>;
  /** Object keys of a collection's retrieved files (for purging). */
  objectKeys(collectionId: string): Promise<string[]>;
}
