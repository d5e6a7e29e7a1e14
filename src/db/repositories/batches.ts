import { sql } from 'kysely';
import type { Batch } from '../schema.js';
import type { Tx } from './transitions.js';
import type { BatchesRepository, BatchSummary } from '../../domain/ports/batches-repository.js';

/**
 * A batch is what one poll brought in: the unit reviewers see together and
 * the policy's per-batch caps count. Numbered per collection.
 */
export async function createBatch(db: Tx, collectionId: string): Promise<Batch> {
  // Serialised per collection by the poll job's id; the unique constraint catches anything else.
  return db
    .insertInto('batches')
    .values({ collection_id: collectionId, seq: sql<number>`(select coalesce(max(seq), 0) + 1 from batches where collection_id = ${collectionId})` })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function assignBatch(db: Tx, batchId: string, artifactIds: string[]): Promise<void> {
  if (!artifactIds.length) return;
  await db.updateTable('artifacts').set({ batch_id: batchId }).where('id', 'in', artifactIds).execute();
}

export async function listBatches(db: Tx, collectionId: string): Promise<BatchSummary[]> {
  const rows = await sql<BatchSummary>`
    select b.*,
      count(i.id) filter (where i.state = 'quarantined')::int as pending,
      count(i.id) filter (where i.state in ('approved', 'published', 'uploaded'))::int as approved,
      count(i.id) filter (where i.state = 'rejected')::int as rejected,
      count(i.id)::int as total
    from batches b left join images i on i.batch_id = b.id
    where b.collection_id = ${collectionId}
    group by b.id order by b.seq desc`.execute(db);
  return rows.rows;
}

export function batchesRepository(db: Tx): BatchesRepository {
  return { create: (collectionId) => createBatch(db, collectionId), list: (collectionId) => listBatches(db, collectionId) };
}
