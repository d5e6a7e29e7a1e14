import { sql } from 'kysely';
import type { StoppedKind, StoppedWork, StoppedWorkRepository } from '../../domain/ports/stopped-work-repository.js';
import { ValidationError } from '../../domain/errors.js';
import type { Tx } from './transitions.js';

/** Upload batch states a person may retry (export batches have nothing to upload). */
const STOPPED_BATCH = sql`b.state in ('failed', 'blocked', 'waiting') and b.mode <> 'export'`;

/**
 * Failed artifacts, failed stamps and stopped upload batches of every
 * collection as one list, newest first. Keyset paged on (updated_at, id):
 * the time travels as the database's own text, so its microseconds survive
 * the round trip, and ids are UUIDs of three tables, so the order is total.
 */
const STOPPED = sql`
  select 'artifact' as kind, a.id, a.collection_id, c.name as collection_name, c.owner, a.state, a.error, a.updated_at as at, a.updated_at::text as at_text,
         a.attempts, a.dataset_id, a.dataset_type, a.data_id, null::text as group_key, null::int as stamp_index, null::int as seq, null::text as mode
    from artifacts a join collections c on c.id = a.collection_id where a.state = 'failed'
  union all
  select 'stamp', i.id, i.collection_id, c.name, c.owner, i.state, i.error, i.updated_at, i.updated_at::text,
         null::int, null::text, null::text, null::jsonb, i.group_key, i.stamp_index, null::int, null::text
    from images i join collections c on c.id = i.collection_id where i.state = 'failed'
  union all
  select 'batch', b.id, b.collection_id, c.name, c.owner, b.state, b.error, b.updated_at, b.updated_at::text,
         (select max(u.attempts) from upload_items u where u.upload_batch_id = b.id), null::text, null::text, null::jsonb, null::text, null::int, b.seq, b.mode
    from upload_batches b join collections c on c.id = b.collection_id where ${STOPPED_BATCH}`;

interface Row extends Omit<StoppedWork, 'at' | 'data_id'> {
  at: Date | string;
  at_text: string;
  data_id: Record<string, string | number> | string | null;
}

export function stoppedWorkRepository(db: Tx): StoppedWorkRepository {
  return {
    async list(f) {
      const after = f.after ? decodeCursor(f.after) : undefined;
      const where = after ? sql`where (s.at, s.id) < (${after.at}::timestamptz, ${after.id}::uuid)` : sql``;
      const { rows } = await sql<Row>`select * from (${STOPPED}) s ${where} order by s.at desc, s.id desc limit ${f.limit + 1}`.execute(db);
      const items = rows.slice(0, f.limit).map(({ at_text: _t, ...r }) => ({
        ...r,
        at: new Date(r.at),
        data_id: typeof r.data_id === 'string' ? (JSON.parse(r.data_id) as Record<string, string | number>) : r.data_id,
        attempts: r.attempts === null ? null : Number(r.attempts),
      }));
      const last = rows[f.limit - 1];
      return { items, next: rows.length > f.limit && last ? encodeCursor(last.at_text, last.id) : null };
    },
    async counts() {
      const { rows } = await sql<{ kind: StoppedKind; n: number }>`select kind, count(*)::int as n from (${STOPPED}) s group by kind`.execute(db);
      const out: Record<StoppedKind, number> = { artifact: 0, stamp: 0, batch: 0 };
      for (const r of rows) out[r.kind] = Number(r.n);
      return out;
    },
  };
}

function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

/** A cursor this repository made; anything else is a client's mistake, named as such. */
function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$/.test(at) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) return { at, id };
  } catch {
    // fall through
  }
  throw new ValidationError('after: not a cursor this API returned', { field: 'after' });
}
