import { Command } from 'commander';
import { join } from 'node:path';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/database.js';
import { UsageError } from './exit-codes.js';

/** `bridge purge --owner USER --reason TEXT [--yes]`: a PI's data removed on request (dry run without --yes). */
export function purgeCommand(): Command {
  return new Command('purge')
    .description("Remove a PI's collections everywhere (Zooniverse, public store, quarantine, database), on their request")
    .requiredOption('--owner <username>', 'the PI (RSP username)')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--yes', 'really do it (without it, only list what would go)')
    .action(async (o: { owner: string; reason: string; yes?: boolean }) => {
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(o.owner)) throw new UsageError(`--owner must be an RSP username, not ${JSON.stringify(o.owner)}`);
      const config = loadConfig();
      const db = await openDatabase({ url: config.DATABASE_URL, dataDir: join(config.DATA_DIR, 'pglite') });
      try {
        const rows = await db.selectFrom('collections').select(['id', 'name', 'status']).where('owner', '=', o.owner).execute();
        if (!o.yes) {
          process.stdout.write(rows.length ? `would purge ${rows.length} collection(s) of ${o.owner}:\n${rows.map((r) => `  ${r.name} (${r.status}) ${r.id}`).join('\n')}\nrun again with --yes\n` : `${o.owner} has no collections\n`);
          return;
        }
        const { buildPanoptes, buildStore } = await import('../app/store.js');
        const { createLogger } = await import('../app/logger.js');
        const { purgeOwner } = await import('../domain/purge.js');
        const { createRepositories } = await import('../db/repositories/index.js');
        const { databaseLock } = await import('../db/locks.js');
        const { store, close } = await buildStore(config);
        try {
          const actor = `cli:${process.env.USER ?? 'operator'}`;
          const r = await purgeOwner({ repos: createRepositories(db), lock: databaseLock(db), store, panoptes: buildPanoptes(config), log: createLogger(config.LOG_LEVEL) }, o.owner, actor, o.reason);
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        } finally {
          close();
        }
      } finally {
        await db.destroy();
      }
    });
}
