import type { ResultsRulesRepository, StoredReduction } from '../../domain/ports/results-rules-repository.js';
import type { Tx } from './transitions.js';

/** Results rules (table results_rules) and the reductions they read (table reductions, written by the reducer). */
export function resultsRulesRepository(db: Tx): ResultsRulesRepository {
  return {
    get: (collectionId) => db.selectFrom('results_rules').selectAll().where('collection_id', '=', collectionId).executeTakeFirst(),
    async put(collectionId, source, digest, actor) {
      const now = new Date();
      return db
        .insertInto('results_rules')
        .values({ collection_id: collectionId, source, digest, enabled: false, updated_by: actor, updated_at: now, evaluated_seq: 0 })
        // A new file looks at every reduction again.
        .onConflict((oc) => oc.column('collection_id').doUpdateSet({ source, digest, enabled: false, updated_by: actor, updated_at: now, evaluated_seq: 0 }))
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    async setEnabled(collectionId, enabled, actor) {
      const r = await db.updateTable('results_rules').set({ enabled, updated_by: actor, updated_at: new Date() }).where('collection_id', '=', collectionId).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async markEvaluated(collectionId, digest, seq) {
      await db.updateTable('results_rules').set({ evaluated_seq: seq }).where('collection_id', '=', collectionId).where('digest', '=', digest).where('evaluated_seq', '<', seq).execute();
    },
    async enabledCollections() {
      const rows = await db.selectFrom('results_rules').select('collection_id').where('enabled', '=', true).execute();
      return rows.map((r) => r.collection_id);
    },
    async reductionsOf(collectionId, workflowId, changedAfter) {
      let q = db.selectFrom('reductions').select(['workflow_id', 'subject_id', 'image_id', 'result', 'updated_at', 'change_seq']).where('collection_id', '=', collectionId);
      if (workflowId !== undefined) q = q.where('workflow_id', '=', workflowId);
      if (changedAfter !== undefined && changedAfter > 0) q = q.where('change_seq', '>', changedAfter);
      const rows = await q.orderBy('workflow_id').orderBy('subject_id').execute();
      return rows.map((r): StoredReduction => ({ ...r, result: typeof r.result === 'string' ? (JSON.parse(r.result) as Record<string, unknown>) : r.result }));
    },
  };
}
