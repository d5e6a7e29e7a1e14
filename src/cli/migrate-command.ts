import { Command } from 'commander';
import type { CliContext } from './context.js';

export function migrateCommand(ctx: CliContext): Command {
  return new Command('migrate').description('Apply database migrations (DATABASE_URL, else the embedded PGlite)').action(async () => {
    const { migrateToLatest } = await import('../db/database.js');
    const r = await migrateToLatest(await ctx.db());
    const applied = (r.results ?? []).filter((x) => x.status === 'Success').map((x) => x.migrationName);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  });
}
