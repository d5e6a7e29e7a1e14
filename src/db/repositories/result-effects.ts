import { sql } from 'kysely';
import type { ResultEffectRecord, ResultEffectsRepository } from '../../domain/ports/result-effects-repository.js';
import type { Tx } from './transitions.js';

/** Ids per `in (...)` list. */
const ID_CHUNK = 1000;
/** Rows per insert: nine parameters each, far below Postgres' bind limit. */
const INSERT_CHUNK = 500;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** PGlite may hand jsonb back as text; the domain wants objects. */
function row(r: ResultEffectRecord): ResultEffectRecord {
  return typeof r.detail === 'string' ? { ...r, detail: JSON.parse(r.detail) as Record<string, unknown> } : r;
}

/** The effects ledger of the results rules (table result_effects). */
export function resultEffectsRepository(db: Tx): ResultEffectsRepository {
  return {
    async recordIntents(rows) {
      const out: ResultEffectRecord[] = [];
      for (const part of chunks(rows, INSERT_CHUNK)) {
        const inserted = await db
          .insertInto('result_effects')
          .values(
            part.map((r) => ({
              collection_id: r.collectionId,
              workflow_id: r.workflowId,
              subject_id: r.subjectId,
              image_id: r.imageId,
              rule_id: r.ruleId,
              kind: r.kind,
              target: r.target,
              detail: JSON.stringify(r.detail),
            })),
          )
          .onConflict((oc) => oc.columns(['workflow_id', 'subject_id', 'kind', 'target']).doNothing())
          .returningAll()
          .execute();
        out.push(...inserted.map(row));
      }
      return out;
    },
    async get(id) {
      const r = await db.selectFrom('result_effects').selectAll().where('id', '=', id).executeTakeFirst();
      return r && row(r);
    },
    async lock(id) {
      const r = await db.selectFrom('result_effects').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      return r && row(r);
    },
    async inStates(collectionId, states) {
      if (states.length === 0) return [];
      const rows = await db.selectFrom('result_effects').selectAll().where('collection_id', '=', collectionId).where('state', 'in', states).orderBy('created_at').orderBy('id').execute();
      return rows.map(row);
    },
    async claimForSending(ids) {
      const out: ResultEffectRecord[] = [];
      for (const part of chunks(ids, ID_CHUNK)) {
        const rows = await db
          .updateTable('result_effects')
          .set({ state: 'sending', attempts: sql<number>`attempts + 1`, updated_at: new Date() })
          .where('id', 'in', part)
          .where('state', '=', 'intent')
          .returningAll()
          .execute();
        out.push(...rows.map(row));
      }
      return out;
    },
    async mark(ids, from, to, change = {}) {
      const out: ResultEffectRecord[] = [];
      const now = new Date();
      for (const part of chunks(ids, ID_CHUNK)) {
        const rows = await db
          .updateTable('result_effects')
          .set({
            state: to,
            updated_at: now,
            ...(to === 'done' ? { done_at: now } : {}),
            ...(change.error !== undefined ? { error: change.error } : {}),
            ...(change.detail ? { detail: sql<string>`detail || ${JSON.stringify(change.detail)}::jsonb` } : {}),
          })
          .where('id', 'in', part)
          .where('state', 'in', from)
          .returningAll()
          .execute();
        out.push(...rows.map(row));
      }
      return out;
    },
    async list(collectionId, f) {
      let q = db.selectFrom('result_effects').selectAll().where('collection_id', '=', collectionId);
      if (f.state) q = q.where('state', '=', f.state);
      if (f.kind) q = q.where('kind', '=', f.kind);
      if (f.before) {
        const b = await db.selectFrom('result_effects').select(['created_at', 'id']).where('id', '=', f.before).executeTakeFirst();
        if (b) q = q.where((eb) => eb.or([eb('created_at', '<', b.created_at), eb.and([eb('created_at', '=', b.created_at), eb('id', '<', b.id)])]));
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
      return rows.map(row);
    },
    async unsettledCollections(olderThan) {
      const rows = await db
        .selectFrom('result_effects as e')
        .innerJoin('results_rules as r', 'r.collection_id', 'e.collection_id')
        .select('e.collection_id')
        .distinct()
        .where('r.enabled', '=', true)
        .where('e.state', 'in', ['intent', 'sending', 'ambiguous'])
        .where('e.updated_at', '<', olderThan)
        .execute();
      return rows.map((r) => r.collection_id);
    },
    async allOf(collectionId, subjects) {
      const q = db.selectFrom('result_effects').select(['id', 'workflow_id', 'subject_id', 'kind', 'target', 'state', 'rule_id']).where('collection_id', '=', collectionId);
      if (!subjects) return q.orderBy('workflow_id').orderBy('subject_id').execute();
      const byWorkflow = new Map<string, string[]>();
      for (const s of subjects) byWorkflow.set(s.workflowId, [...(byWorkflow.get(s.workflowId) ?? []), s.subjectId]);
      const out = [];
      for (const [workflowId, ids] of byWorkflow) {
        for (let i = 0; i < ids.length; i += 1000) out.push(...(await q.where('workflow_id', '=', workflowId).where('subject_id', 'in', ids.slice(i, i + 1000)).orderBy('subject_id').execute()));
      }
      return out;
    },
  };
}
