import type { Kysely, Transaction } from 'kysely';
import type { Database, TransitionTable } from '../schema.js';
import { assertTransition } from '../../domain/states.js';

export type Tx = Kysely<Database> | Transaction<Database>;

/**
 * Moves one row from `from` to `to` only if it is still in `from` (so two
 * workers racing on the same row produce one transition), and logs it.
 * Returns false when the row had already moved: the caller treats that as
 * "someone else did it", which is what makes handlers idempotent.
 */
export async function transition(
  tx: Tx,
  entity: TransitionTable['entity'],
  id: string,
  from: string,
  to: string,
  actor: string,
  extra: Record<string, unknown> = {},
  reason: string | null = null,
): Promise<boolean> {
  assertTransition(entity, from, to);
  const table = entity === 'artifact' ? 'artifacts' : entity === 'image' ? 'images' : 'collections';
  const column = entity === 'collection' ? 'status' : 'state';
  const updated = await tx
    .updateTable(table)
    .set({ ...extra, [column]: to, updated_at: new Date() } as never)
    .where('id', '=', id)
    .where(column as never, '=', from as never)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) return false;
  await tx.insertInto('transitions').values({ entity, entity_id: id, from_state: from, to_state: to, actor, reason }).execute();
  return true;
}
