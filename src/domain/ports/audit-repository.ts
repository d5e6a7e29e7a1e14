import type { AuditEntry } from '../model.js';

export interface AuditInput {
  actor: string;
  action: string;
  entity: AuditEntry['entity'];
  entityId: string;
  collectionId: string | null;
  policyRef?: string | null;
  reason?: string | null;
  detail?: Record<string, unknown>;
}

/** The append-only audit log: who did what to which record, and under which policy. */
export interface AuditRepository {
  append(entries: AuditInput[]): Promise<void>;
  /** Newest first, keyset-paged by id. */
  list(filter: { entityId?: string; collectionId?: string; before?: string; limit: number }): Promise<AuditEntry[]>;
  /** The newest entry about `entityId` whose action is one of `actions`. */
  latest(entityId: string, actions: string[]): Promise<Pick<AuditEntry, 'actor' | 'action'> | undefined>;
  /** `latest` for many entities at once, by entity id (entities with no such entry are absent). */
  latestOfEach(entityIds: string[], actions: string[]): Promise<Map<string, Pick<AuditEntry, 'actor' | 'action' | 'at' | 'reason'>>>;
  /** The newest entry the policy itself wrote about `entityId`: its verdict, or why it could not give one. */
  latestByPolicy(entityId: string): Promise<AuditEntry | undefined>;
}
