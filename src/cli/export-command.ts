import { Command } from 'commander';
import type { Collection } from '../domain/model.js';
import type { Repositories } from '../domain/ports/repositories.js';
import { NotFoundError } from '../domain/errors.js';
import { UsageError } from './exit-codes.js';
import { progressBar } from './progress.js';
import type { CliContext } from './context.js';

/** A collection by id, or by name when that name is unambiguous (otherwise the operator must give the id). */
export async function resolveCollection(repos: Repositories, idOrName: string): Promise<Collection> {
  const rows = await repos.collections.findByIdOrName(idOrName);
  if (!rows.length) throw new NotFoundError(`no collection ${idOrName}`);
  if (rows.length > 1) throw new UsageError(`${rows.length} collections are named ${idOrName} (in ${rows.map((r) => `${r.repository}: ${r.id}`).join(', ')}); give the id`);
  return rows[0];
}

/** `bridge export --collection <id or name> --out FILE.zip` (see domain/export.ts). */
export function exportCommand(ctx: CliContext): Command {
  return new Command('export')
    .description('Write the approved images of a collection and a Zooniverse Project Builder manifest (manifest.csv) to a zip')
    .requiredOption('--collection <id or name>', 'the collection')
    .requiredOption('--out <file.zip>', 'where to write the zip')
    .action(async (o: { collection: string; out: string }) => {
      if (!o.out.toLowerCase().endsWith('.zip')) throw new UsageError(`--out ${o.out}: expected a .zip file name`);
      const repos = await ctx.repos();
      const store = await ctx.store();
      const c = await resolveCollection(repos, o.collection);
      // Imported when the command runs: the definition is built for every `bridge` run, --help included.
      const { exportCollection } = await import('../domain/export.js');
      const r = await exportCollection({ repos, store }, c.id, o.out, { onProgress: progressBar('export') });
      process.stdout.write(`wrote ${r.path}: ${r.images} images (${r.stripped} with coordinates stripped by the data-rights policy) and manifest.csv\n`);
      process.stdout.write('upload: Zooniverse Project Builder > Subject Sets > add files: manifest.csv and the images together\n');
    });
}
