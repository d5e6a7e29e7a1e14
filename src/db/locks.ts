import { sql } from 'kysely';
import { LockBusyError, type Lock } from '../domain/ports/lock.js';
import type { Db } from './database.js';

/*
 * The Lock port on the two engines the bridge runs on. PGlite is one
 * process's database, so keys held in memory are all the exclusion it needs.
 * Postgres is shared by every worker: there a key is also a session advisory
 * lock, held on a connection set aside for the run, which Postgres releases
 * itself if the process dies.
 */

/** Keys held by runs of this process. */
export function inProcessLock(): Lock {
  const held = new Set<string>();
  return {
    async withLock(key, fn) {
      if (held.has(key)) throw new LockBusyError(key, false);
      held.add(key);
      try {
        return await fn();
      } finally {
        held.delete(key);
      }
    },
  };
}

/**
 * Postgres: `local` first (a second run in this process is turned away
 * without taking a connection), then pg_try_advisory_lock on a connection
 * kept until the run ends.
 */
export function advisoryLock(db: Db, local: Lock = inProcessLock()): Lock {
  return {
    withLock: (key, fn) =>
      local.withLock(key, () =>
        db.connection().execute(async (conn) => {
          const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext(${key})) as ok`.execute(conn);
          if (!got.rows[0]?.ok) throw new LockBusyError(key, true);
          try {
            return await fn();
          } finally {
            await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
          }
        }),
      ),
  };
}

/** The lock that suits `db`; which engine it is is asked once, on first use. */
export function databaseLock(db: Db): Lock {
  const local = inProcessLock();
  let chosen: Promise<Lock> | undefined;
  return {
    async withLock(key, fn) {
      // A failed probe (database briefly away) is asked again next time, not remembered.
      chosen ??= isEmbedded(db).then(
        (embedded) => (embedded ? local : advisoryLock(db, local)),
        (e: unknown) => {
          chosen = undefined;
          throw e;
        },
      );
      return (await chosen).withLock(key, fn);
    },
  };
}

async function isEmbedded(db: Db): Promise<boolean> {
  const r = await sql<{ v: string }>`select version() as v`.execute(db);
  return /pglite|emscripten/i.test(r.rows[0]?.v ?? '');
}
