import { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { migrateToLatest, openDatabase } from '../db/database.js';
import { join } from 'node:path';

export function migrateCommand(): Command {
  return new Command('migrate').description('Apply database migrations (DATABASE_URL, else the embedded PGlite)').action(async () => {
    const config = loadConfig();
    const db = await openDatabase({ url: config.DATABASE_URL, dataDir: join(config.DATA_DIR, 'pglite') });
    try {
      const r = await migrateToLatest(db);
      const applied = (r.results ?? []).filter((x) => x.status === 'Success').map((x) => x.migrationName);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await db.destroy();
    }
  });
}
