import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { migrations } from '../../src/db/migrations/index.js';
import { PGliteDialect } from '../../src/db/pglite-dialect.js';
import type { Database } from '../../src/db/schema.js';
import { throwawayDatabase } from './throwaway-database.js';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.js';

/**
 * The databases every integration test runs against: embedded PGlite always,
 * and real Postgres when TEST_DATABASE_URL is set (.ci/run sets it). Each
 * test file gets its own fresh, migrated database, dropped afterwards.
 */
export interface TestDb {
  kind: 'pglite' | 'postgres';
  db: Db;
  close(): Promise<void>;
}

export const DB_KINDS: ('pglite' | 'postgres')[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/**
 * A migrated PGlite cluster, dumped once and shared by every test process
 * through a file in the temp directory. Starting PGlite from it takes ~0.4 s
 * where initdb and the migrations take ~2.3 s, and most test files open one.
 * The file's name carries a hash of PGlite's version and the migrations, so a
 * changed migration never starts from a stale dump; migrateToLatest still
 * runs (and finds nothing to do) so the database is the production shape.
 */
async function migratedSnapshot(): Promise<Blob> {
  const version = (JSON.parse(await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const hash = createHash('sha256').update(version);
  for (const [name, m] of Object.entries(migrations).sort(([a], [b]) => a.localeCompare(b))) hash.update(name).update(String(m.up)).update(String(m.down));
  const file = join(tmpdir(), `bridge-test-pglite-${hash.digest('hex').slice(0, 16)}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch {
    const pglite = new PGlite();
    await migrateToLatest(new Kysely<Database>({ dialect: new PGliteDialect(pglite) }));
    const dump = await pglite.dumpDataDir('none');
    await pglite.close();
    // Written under a private name then renamed: a process reading the file never sees half of it.
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
    return dump;
  }
}

let snapshot: Promise<Blob> | undefined;

export async function freshDatabase(kind: 'pglite' | 'postgres'): Promise<TestDb> {
  if (kind === 'pglite') {
    const db = await openDatabase({ dataDir: 'memory://', loadDataDir: await (snapshot ??= migratedSnapshot()) });
    await migrateToLatest(db);
    return { kind, db, close: () => db.destroy() };
  }
  const scratch = await throwawayDatabase(process.env.TEST_DATABASE_URL!, 'bridge_test');
  const db = await openDatabase({ url: scratch.url });
  await migrateToLatest(db);
  return {
    kind,
    db,
    close: async () => {
      await db.destroy();
      await scratch.drop();
    },
  };
}
