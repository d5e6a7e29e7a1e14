import pg from 'pg';
import { randomBytes } from 'node:crypto';
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

export async function freshDatabase(kind: 'pglite' | 'postgres'): Promise<TestDb> {
  if (kind === 'pglite') {
    const db = await openDatabase({ dataDir: 'memory://' });
    await migrateToLatest(db);
    return { kind, db, close: () => db.destroy() };
  }
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  const name = `bridge_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString() });
  await migrateToLatest(db);
  return {
    kind,
    db,
    close: async () => {
      await db.destroy();
      const a = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
