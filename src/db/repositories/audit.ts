import type { AuditEntry, AuditTable } from '../schema.js';
import type { Tx } from './transitions.js';

export interface AuditInput {
  actor: string;
  action: string;
  entity: AuditTable['entity'];
  entityId: string;
  collectionId: string | null;
  policyRef?: string | null;
  reason?: string | null;
  detail?: Record<string, unknown>;
}

/** Appends to the audit log (the table refuses updates and deletes). */
export async function appendAudit(db: Tx, entries: AuditInput[]): Promise<void> {
  if (!entries.length) return;
  await db
    .insertInto('audit_log')
    .values(
      entries.map((e) => ({
        actor: e.actor,
        action: e.action,
        entity: e.entity,
        entity_id: e.entityId,
        collection_id: e.collectionId,
        policy_ref: e.policyRef ?? null,
        reason: e.reason ?? null,
        detail: JSON.stringify(e.detail ?? {}) as never,
      })),
    )
    .execute();
}

/** Newest first, keyset-paged by id. */
export async function listAudit(db: Tx, f: { entityId?: string; collectionId?: string; before?: string; limit: number }): Promise<AuditEntry[]> {
  let q = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(f.limit);
  if (f.entityId) q = q.where('entity_id', '=', f.entityId);
  if (f.collectionId) q = q.where('collection_id', '=', f.collectionId);
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}
