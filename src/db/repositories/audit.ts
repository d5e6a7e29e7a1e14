import type { AuditEntry } from '../schema.js';
import type { AuditInput, AuditRepository } from '../../domain/ports/audit-repository.js';
import type { Tx } from './transitions.js';

export type { AuditInput };

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

export function auditRepository(db: Tx): AuditRepository {
  return {
    append: (entries) => appendAudit(db, entries),
    list: (f) => listAudit(db, f),
    latest: (entityId, actions) => db.selectFrom('audit_log').select(['actor', 'action']).where('entity_id', '=', entityId).where('action', 'in', actions).orderBy('id', 'desc').limit(1).executeTakeFirst(),
    async latestOfEach(entityIds, actions) {
      const out = new Map<string, Pick<AuditEntry, 'actor' | 'action' | 'at' | 'reason'>>();
      for (let i = 0; i < entityIds.length; i += 1000) {
        const rows = await db
          .selectFrom('audit_log')
          .distinctOn('entity_id')
          .select(['entity_id', 'action', 'actor', 'at', 'reason'])
          .where('entity_id', 'in', entityIds.slice(i, i + 1000))
          .where('action', 'in', actions)
          .orderBy('entity_id')
          .orderBy('id', 'desc')
          .execute();
        for (const { entity_id, ...last } of rows) out.set(entity_id, last);
      }
      return out;
    },
    latestByPolicy: (entityId) =>
      db
        .selectFrom('audit_log')
        .selectAll()
        .where('entity_id', '=', entityId)
        .where('action', 'like', 'policy\\_%')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst(),
  };
}
