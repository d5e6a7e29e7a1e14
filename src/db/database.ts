import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, type MigrationResultSet } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.js';
import { lockDataDir } from './data-dir-lock.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseOptions {
  /** postgres:// URL; unset = embedded PGlite. */
  url?: string;
  /** PGlite data directory; 'memory://' keeps it in memory (tests). */
  dataDir?: string;
  /** PGlite in memory only: start from this dump (PGlite's dumpDataDir) instead of an empty cluster. Tests use it to skip initdb. */
  loadDataDir?: Blob;
  /** Told when Postgres closes an idle pooled connection (for logging). */
  onIdleError?: (e: Error) => void;
}

/** Real Postgres when a URL is given, else PGlite files under dataDir. */
export async function openDatabase(opts: DatabaseOptions): Promise<Db> {
  if (opts.url) {
    // int8 (bigint) as number: our sizes stay far below 2^53.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    // An idle connection closed by the server (restart, failover, pg_terminate)
    // must not crash the process: the pool drops it and the next query opens
    // a new one; errors during a query still reach that query's caller.
    pool.on('error', (e) => opts.onIdleError?.(e));
    // A connection in use when the server ends it emits 'error' on its client
    // too (besides failing the query): unheard, that event would end the
    // process. The failed query is the caller's to handle; the client is
    // discarded when released.
    pool.on('connect', (client) => client.on('error', (e) => opts.onIdleError?.(e)));
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const dir = opts.dataDir ?? './data/pglite';
  const memory = dir.startsWith('memory://');
  let release: (() => Promise<void>) | undefined;
  if (!memory) {
    await mkdir(resolve(dir), { recursive: true });
    // Before PGlite touches the files: a second process must not open them at all.
    release = await lockDataDir(dir);
  }
  try {
    const pglite = new PGlite(memory ? undefined : resolve(dir), {
      parsers: { 20: (v: string) => Number(v) },
      ...(memory && opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    // Kysely skips its driver's destroy when no query ever ran; the files and
    // the lock must be let go either way.
    const destroy = db.destroy.bind(db);
    db.destroy = async () => {
      try {
        await destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        await release?.();
      }
    };
    return db;
  } catch (e) {
    await release?.();
    throw e;
  }
}

export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(result.error as Error).message ?? result.error}`);
  }
  return result;
}
