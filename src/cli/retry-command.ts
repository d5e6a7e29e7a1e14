import { Command } from 'commander';
import { UsageError } from './exit-codes.js';
import type { CliContext } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `bridge retry --collection ID|NAME [--batch ID | --batches | --artifact ID | --artifacts]`:
 * an operator takes stopped work back up, as the API's retry routes do
 * (audited, actor cli:<user>). Without any of the four it lists what
 * stopped. Without REDIS_URL the retry is recorded in the database and a
 * running service's sweep picks it up.
 */
export function retryCommand(ctx: CliContext): Command {
  return new Command('retry')
    .description('List what stopped in a collection (failed artifacts, failed/blocked/waiting upload batches), or retry it')
    .requiredOption('--collection <id-or-name>', 'the collection (id or u/<user>/... name)')
    .option('--batch <id>', 'retry this upload batch')
    .option('--batches', 'retry every failed, blocked or waiting upload batch')
    .option('--artifact <id>', 'retry this failed artifact (retrieve and convert it again)')
    .option('--artifacts', 'retry every failed artifact')
    .option('--json', 'print JSON')
    .action(async (o: { collection: string; batch?: string; batches?: boolean; artifact?: string; artifacts?: boolean; json?: boolean }) => {
      const chosen = [o.batch, o.batches, o.artifact, o.artifacts].filter(Boolean).length;
      if (chosen > 1) throw new UsageError('give one of --batch, --batches, --artifact, --artifacts');
      for (const [flag, v] of [['--batch', o.batch], ['--artifact', o.artifact]] as const) if (v !== undefined && !UUID.test(v)) throw new UsageError(`${flag} must be an id (uuid), not ${JSON.stringify(v)}`);
      const repos = await ctx.repos();
      const found = await repos.collections.findByIdOrName(o.collection);
      if (!found.length) throw new UsageError(`no collection ${o.collection}`);
      if (found.length > 1) throw new UsageError(`${o.collection} names ${found.length} collections (in different repositories): give its id (${found.map((x) => x.id).join(', ')})`);
      const c = found[0];
      const { failuresOf, retryArtifacts, retryUploadBatch, retryUploadBatches } = await import('../domain/retry.js');
      const { systemClock } = await import('../domain/ports/clock.js');
      const queues = await ctx.queues();
      // Recorded in the database either way; without Redis the service's sweep queues it.
      const deps = { repos, clock: systemClock, queues: queues ?? { add: async () => {} } };
      const operator = { username: `cli:${process.env.USER ?? 'operator'}`, roles: ['pi', 'admin'] };
      const print = (text: string, json: unknown) => process.stdout.write(o.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
      const later = queues ? '' : ' (no REDIS_URL: recorded; the running service picks it up at its next sweep)';
      if (o.batch || o.batches) {
        const done = o.batch ? [await retryUploadBatch(deps, operator, c, o.batch)] : await retryUploadBatches(deps, operator, c);
        print(done.length ? done.map((b) => `batch #${b.seq} (${b.uploadBatchId}) ${b.from} -> manifested, mode ${b.mode}${later}`).join('\n') : `${c.name}: no failed, blocked or waiting batches`, { retried: done });
        return;
      }
      if (o.artifact || o.artifacts) {
        const done = await retryArtifacts(deps, operator, c, o.artifact);
        print(done.length ? done.map((a) => `artifact ${a.artifactId} (dataset ${a.datasetId}) failed -> discovered${later}`).join('\n') : `${c.name}: no failed artifacts`, { retried: done });
        return;
      }
      const f = await failuresOf(repos, c);
      const lines = [
        `${c.name}: ${f.artifacts.length} failed artifact(s), ${f.batches.length} upload batch(es) stopped`,
        ...f.artifacts.map((a) => `  artifact ${a.id} dataset ${a.dataset_id} (${a.dataset_type} ${JSON.stringify(a.data_id)}), ${a.attempts} attempt(s): ${a.error ?? 'no reason recorded'}`),
        ...f.batches.map((b) => `  batch #${b.seq} ${b.id} ${b.state} (${b.mode}): ${b.error ?? 'no reason recorded'}`),
      ];
      print(lines.join('\n'), f);
    });
}
