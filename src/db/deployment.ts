import type { Db } from './database.js';

/**
 * The queue prefix this deployment uses by default: `bridge-` and the first
 * 8 hex digits of the id its database was given at migration. Every process
 * on the same database gets the same prefix; another database, another one.
 */
export async function deploymentQueuePrefix(db: Db): Promise<string> {
  let row: { id: string } | undefined;
  try {
    row = await db.selectFrom('deployment').select('id').orderBy('created_at').limit(1).executeTakeFirst();
  } catch (e) {
    throw new Error(`the database has no deployment record (${(e as Error).message}): run \`bridge migrate\` first`);
  }
  if (!row) throw new Error('the database has no deployment record: run `bridge migrate` first');
  return `bridge-${row.id.replace(/-/g, '').slice(0, 8)}`;
}
