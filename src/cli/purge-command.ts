import { Command } from 'commander';
import { UsageError } from './exit-codes.js';
import type { CliContext } from './context.js';

/** `bridge purge --owner USER --reason TEXT [--yes]`: a PI's data removed on request (dry run without --yes). */
export function purgeCommand(ctx: CliContext): Command {
  return new Command('purge')
    .description("Remove a PI's collections everywhere (Zooniverse, public store, quarantine, database), on their request")
    .requiredOption('--owner <username>', 'the PI (RSP username)')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--yes', 'really do it (without it, only list what would go)')
    .action(async (o: { owner: string; reason: string; yes?: boolean }) => {
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(o.owner)) throw new UsageError(`--owner must be an RSP username, not ${JSON.stringify(o.owner)}`);
      const rows = await (await ctx.repos()).collections.list({ owner: o.owner });
      if (!o.yes) {
        process.stdout.write(rows.length ? `would purge ${rows.length} collection(s) of ${o.owner}:\n${rows.map((r) => `  ${r.name} (${r.status}) ${r.id}`).join('\n')}\nrun again with --yes\n` : `${o.owner} has no collections\n`);
        return;
      }
      const { purgeOwner } = await import('../domain/purge.js');
      const actor = `cli:${process.env.USER ?? 'operator'}`;
      const r = await purgeOwner({ repos: await ctx.repos(), lock: await ctx.lock(), store: await ctx.store(), panoptes: await ctx.panoptes(), log: await ctx.log() }, o.owner, actor, o.reason);
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    });
}
