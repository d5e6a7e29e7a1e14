import { sql } from 'kysely';
import type { Batch } from '../schema.js';
import type { Tx } from './transitions.js';
import type { BatchesRepository, BatchSummary, SettledBatch } from '../../domain/ports/batches-repository.js';

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
  return {
    create: (collectionId) => createBatch(db, collectionId),
    list: (collectionId) => listBatches(db, collectionId),
    settle: (collectionId, bands) => settleBatches(db, collectionId, bands),
    async lock(batchId) {
      await sql`select id from batches where id = ${batchId} for update`.execute(db);
    },
    async markFilesRetrieved(batchId) {
      const done = await sql<{ id: string; seq: number }>`
        update batches b set files_retrieved_at = now()
        where b.id = ${batchId} and b.files_retrieved_at is null
          and not exists (select 1 from artifacts a where a.batch_id = b.id and a.object_key is null)
        returning b.id, b.seq`.execute(db);
      const row = done.rows[0];
      if (!row) return undefined;
      const n = await sql<{ datasets: number; bytes: number }>`select count(*)::int as datasets, coalesce(sum(size), 0)::float8 as bytes from artifacts where batch_id = ${batchId}`.execute(db);
      return { id: row.id, seq: row.seq, datasets: n.rows[0].datasets, bytes: Number(n.rows[0].bytes) };
    },
    async unsettle(batchId) {
      await db.updateTable('batches').set({ settled_at: null }).where('id', '=', batchId).execute();
    },
  };
}

/**
 * See BatchesRepository.settle. One UPDATE decides and marks, so two workers
 * finishing the last two groups of a batch at once announce it once: the
 * second finds settled_at already set.
 */
export async function settleBatches(db: Tx, collectionId: string, bands: string[]): Promise<SettledBatch[]> {
  const bandList = bands.length ? sql.join(bands) : sql`null`;
  const settled = await sql<{ id: string; seq: number }>`
    update batches b set settled_at = now()
    where b.collection_id = ${collectionId} and b.settled_at is null
      and not exists (select 1 from artifacts a where a.batch_id = b.id and a.state = 'discovered')
      and not exists (
        select 1 from artifacts a where a.batch_id = b.id and a.state = 'retrieved'
          and (a.object_key like '%.zip'
            or (select count(distinct g.band) from artifacts g
                where g.collection_id = a.collection_id and g.group_key = a.group_key
                  and g.state in ('retrieved', 'converted') and g.band in (${bandList})) >= ${bands.length > 0 ? bands.length : 1}))
      and not exists (select 1 from images i where i.batch_id = b.id and i.state = 'quarantined' and i.verdict is null and i.error is null)
    returning b.id, b.seq`.execute(db);
  const out: SettledBatch[] = [];
  for (const b of settled.rows) {
    const counts = await sql<Omit<SettledBatch, 'id' | 'seq'>>`
      select
        (select count(*)::int from artifacts a where a.batch_id = ${b.id}) as datasets,
        (select count(*)::int from artifacts a where a.batch_id = ${b.id} and a.state = 'failed') as failed_datasets,
        count(i.id) filter (where i.state != 'failed')::int as images,
        count(i.id) filter (where i.state != 'failed' and i.verdict = 'pending_review')::int as pending_review,
        count(i.id) filter (where i.state != 'failed' and i.verdict = 'rejected')::int as rejected,
        count(i.id) filter (where i.state != 'failed' and i.verdict = 'auto_approved')::int as auto_approved,
        count(i.id) filter (where i.state != 'failed' and i.verdict = 'held')::int as held,
        count(i.id) filter (where i.state = 'failed')::int as failed_stamps
      from images i where i.batch_id = ${b.id}`.execute(db);
    out.push({ id: b.id, seq: b.seq, ...counts.rows[0] });
  }
  return out;
}
