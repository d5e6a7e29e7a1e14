import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { resolveCollection } from './export-command.js';
import { UsageError } from './exit-codes.js';
import { progressBar } from './progress.js';
import type { CliContext } from './context.js';

/**
 * `bridge results --collection X --format csv|parquet --out FILE`: the
 * collection's results table (the same rows and columns as the API's
 * downloads, read through the same domain code), written to a temporary
 * file beside FILE and renamed into place, so FILE is either the whole
 * table or untouched. `results` is also the group of the results
 * subcommands (`bridge results check FILE`, added in main.ts): options are
 * checked here, not declared required, or commander would ask for them
 * before every subcommand too.
 */
export function resultsCommand(ctx: CliContext): Command {
  return new Command('results')
    // Its own options only before a subcommand's name: `results status --collection X` gives --collection to status.
    .enablePositionalOptions()
    .description("Volunteers' results: write a collection's results table (CSV or Parquet), or check a results rules file (results check FILE)")
    .option('--collection <id or name>', 'the collection')
    .option('--format <csv|parquet>', 'file format (default: from the --out extension)')
    .option('--out <file>', 'where to write the table')
    .action(async (o: { collection?: string; format?: string; out?: string }) => {
      if (!o.collection) throw new UsageError('results: --collection <id or name> is required (or a subcommand: results check FILE)');
      if (!o.out) throw new UsageError('results: --out <file> is required');
      const format = o.format ?? (o.out.toLowerCase().endsWith('.parquet') ? 'parquet' : o.out.toLowerCase().endsWith('.csv') ? 'csv' : undefined);
      if (format !== 'csv' && format !== 'parquet') throw new UsageError(`results: --format must be csv or parquet${o.format ? `, not ${o.format}` : ' (the --out name does not say)'}`);
      const repos = await ctx.repos();
      const c = await resolveCollection(repos, o.collection);
      // Imported when the command runs (the Parquet writer among them), not with its definition.
      const { resultsCount, writeResultsCsv, writeResultsParquet } = await import('../domain/results-download.js');
      const { open, rename, rm } = await import('node:fs/promises');
      const { randomBytes } = await import('node:crypto');
      const total = await resultsCount(repos, c);
      const bar = progressBar(`results ${format}`);
      const tmp = join(dirname(o.out), `.${basename(o.out)}.${randomBytes(4).toString('hex')}.tmp`);
      const file = await open(tmp, 'wx');
      let rows = 0;
      try {
        const sink = async (chunk: Uint8Array) => void (await file.write(chunk));
        const onRows = (n: number) => bar(n, total);
        bar(0, total);
        rows = format === 'csv' ? await writeResultsCsv(repos, c, sink, { onRows }) : await writeResultsParquet(repos, c, sink, { onRows });
        if (rows !== total) bar(rows, rows);
        await file.sync();
        await file.close();
        await rename(tmp, o.out);
      } catch (e) {
        await file.close().catch(() => {});
        await rm(tmp, { force: true });
        throw e;
      }
      process.stdout.write(`wrote ${o.out}: ${rows} result row${rows === 1 ? '' : 's'} of ${c.name} (${format})${rows === 0 ? ': no reductions yet (classifications are pulled and reduced by the workers)' : ''}\n`);
    });
}
