import { sql } from 'kysely';
import type { CaesarReductionsRepository, StoredCaesarReduction } from '../../domain/ports/caesar-reductions-repository.js';
import type { Tx } from './transitions.js';

/** Caesar endpoints and the reductions Caesar sent (migration 20261210090000_caesar_reductions). */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Row = {
  workflow_id: string;
  subject_id: string;
  reducer_key: string;
  collection_id: string;
  image_id: string;
  data: unknown;
  caesar_id: string | null;
  caesar_updated_at: string;
  received_at: Date;
};

const COLUMNS = ['workflow_id', 'subject_id', 'reducer_key', 'collection_id', 'image_id', 'data', 'caesar_id', 'caesar_updated_at', 'received_at'] as const;

function toReduction(r: Row): StoredCaesarReduction {
  return {
    workflowId: r.workflow_id,
    subjectId: r.subject_id,
    reducerKey: r.reducer_key,
    collectionId: r.collection_id,
    imageId: r.image_id,
    // Some drivers hand jsonb back as text.
    data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
    caesarId: r.caesar_id,
    caesarUpdatedAt: r.caesar_updated_at,
    receivedAt: new Date(r.received_at),
  };
}

export function caesarReductionsRepository(db: Tx): CaesarReductionsRepository {
  return {
    async endpoint(collectionId) {
      const r = await db
        .selectFrom('caesar_endpoints')
        .select(['collection_id', 'secret_hash', 'created_by', 'created_at', sql<string>`stored::text`.as('stored'), sql<string>`ignored::text`.as('ignored'), 'last_received_at'])
        .where('collection_id', '=', collectionId)
        .executeTakeFirst();
      if (!r) return undefined;
      return {
        collectionId: r.collection_id,
        secretHash: r.secret_hash,
        createdBy: r.created_by,
        createdAt: new Date(r.created_at),
        stored: Number(r.stored),
        ignored: Number(r.ignored),
        lastReceivedAt: r.last_received_at === null ? null : new Date(r.last_received_at),
      };
    },
    async setEndpoint(collectionId, secretHash, createdBy) {
      const before = await db.selectFrom('caesar_endpoints').select('collection_id').where('collection_id', '=', collectionId).forUpdate().executeTakeFirst();
      await db
        .insertInto('caesar_endpoints')
        .values({ collection_id: collectionId, secret_hash: secretHash, created_by: createdBy })
        .onConflict((oc) => oc.column('collection_id').doUpdateSet({ secret_hash: secretHash, created_by: createdBy, created_at: new Date() }))
        .execute();
      return { replaced: !!before };
    },
    async removeEndpoint(collectionId) {
      const r = await db.deleteFrom('caesar_endpoints').where('collection_id', '=', collectionId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async recordDelivery(collectionId, outcome, at) {
      await db
        .updateTable('caesar_endpoints')
        .set(outcome === 'stored' ? { stored: sql`stored + 1`, last_received_at: at } : { ignored: sql`ignored + 1`, last_received_at: at })
        .where('collection_id', '=', collectionId)
        .execute();
    },
    async imageOfSubject(collectionId, subjectId, bridgeImageId) {
      const bySubject = await db
        .selectFrom('upload_items')
        .innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id')
        .select('upload_items.image_id')
        .where('upload_batches.collection_id', '=', collectionId)
        .where('upload_items.subject_id', '=', subjectId)
        .executeTakeFirst();
      if (bySubject) return bySubject.image_id;
      // Not a uuid: never ours (and comparing it with a uuid column would be a database error).
      if (!bridgeImageId || !UUID.test(bridgeImageId)) return null;
      const byMetadata = await db.selectFrom('images').select('id').where('id', '=', bridgeImageId).where('collection_id', '=', collectionId).executeTakeFirst();
      return byMetadata?.id ?? null;
    },
    async upsertIfNewer(r) {
      const written = await db
        .insertInto('caesar_reductions')
        .values({
          workflow_id: r.workflowId,
          subject_id: r.subjectId,
          reducer_key: r.reducerKey,
          collection_id: r.collectionId,
          image_id: r.imageId,
          data: r.data === undefined ? null : JSON.stringify(r.data),
          caesar_id: r.caesarId,
          caesar_updated_at: r.caesarUpdatedAt,
        })
        .onConflict((oc) =>
          oc
            .columns(['workflow_id', 'subject_id', 'reducer_key'])
            .doUpdateSet((eb) => ({
              collection_id: eb.ref('excluded.collection_id'),
              image_id: eb.ref('excluded.image_id'),
              data: eb.ref('excluded.data'),
              caesar_id: eb.ref('excluded.caesar_id'),
              caesar_updated_at: eb.ref('excluded.caesar_updated_at'),
              received_at: new Date(),
            }))
            .where((eb) => eb('excluded.caesar_updated_at', '>', eb.ref('caesar_reductions.caesar_updated_at'))),
        )
        .returning('workflow_id')
        .executeTakeFirst();
      return !!written;
    },
    async ofSubjects(collectionId, subjectIds) {
      if (subjectIds.length === 0) return [];
      const rows = await db
        .selectFrom('caesar_reductions')
        .select(COLUMNS)
        .where('collection_id', '=', collectionId)
        .where('subject_id', 'in', [...new Set(subjectIds)])
        .orderBy('workflow_id')
        .orderBy('subject_id')
        .orderBy('reducer_key')
        .execute();
      return rows.map((r) => toReduction(r as Row));
    },
    async list(collectionId, opts) {
      let q = db.selectFrom('caesar_reductions').select(COLUMNS).where('collection_id', '=', collectionId);
      const a = opts.after;
      if (a) q = q.where(sql<boolean>`(workflow_id, subject_id, reducer_key) > (${a.workflowId}, ${a.subjectId}, ${a.reducerKey})`);
      const rows = await q.orderBy('workflow_id').orderBy('subject_id').orderBy('reducer_key').limit(opts.limit).execute();
      return rows.map((r) => toReduction(r as Row));
    },
  };
}
