import { Command } from 'commander';
import { resolveCollection } from './export-command.js';
import { UsageError } from './exit-codes.js';
import type { CliContext } from './context.js';

/**
 * The operator's handles on the results loop, beside `bridge results`
 * (the table) and `results check` (a rules file):
 *
 *   bridge results status    --collection X [--json]  where classifications come from and how far reduction is
 *   bridge results pull      --collection X           pull the project's new classifications now (needs REDIS_URL)
 *   bridge results backfill  --collection X           ask Panoptes for a classification export and load it
 *   bridge results recompute --collection X           rebuild the reductions from every stored classification
 *
 * Each reads and writes through the same domain code as the API's routes
 * (results-status-routes.ts), audited as cli:<user> where it changes state.
 */
const operator = () => `cli:${process.env.USER ?? 'operator'}`;
const collectionOption = ['--collection <id or name>', 'the collection'] as const;

export function resultsOpsCommands(ctx: CliContext): Command[] {
  const status = new Command('status')
    .description("Where a collection's classifications come from (pull cursor, export backfill) and how far their reduction is")
    .requiredOption(...collectionOption)
    .option('--json', 'print JSON')
    .action(async (o: { collection: string; json?: boolean }) => {
      const repos = await ctx.repos();
      const c = await resolveCollection(repos, o.collection);
      const { resultsStatus } = await import('../domain/results-backfill.js');
      const { systemClock } = await import('../domain/ports/clock.js');
      const s = await resultsStatus(repos, c, systemClock);
      if (o.json) return void process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      const lines = [`${c.name}: ${s.classifications} classification(s) stored, ${s.reducedSubjects} subject(s) reduced (through arrival #${s.reducedSeq})`];
      if (!s.projectId) lines.push('  no Zooniverse project: nothing is pulled until the collection is given one');
      else {
        lines.push(`  Zooniverse project ${s.projectId}`);
        lines.push(s.pull?.pulledAt ? `  pull: last at ${s.pull.pulledAt}, up to classification ${s.pull.lastId ?? '-'}; ${s.pull.kept} kept, ${s.pull.ignored} of other subjects ignored` : '  pull: not yet');
        if (s.pull?.lastError) lines.push(`  pull error: ${s.pull.lastError}`);
        if (s.export) lines.push(`  export backfill: ${s.export.message}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  const pull = new Command('pull')
    .description("Pull the collection's Zooniverse project's new classifications now (the workers also pull every RESULTS_PULL_INTERVAL_SECONDS)")
    .requiredOption(...collectionOption)
    .action(async (o: { collection: string }) => {
      const repos = await ctx.repos();
      const c = await resolveCollection(repos, o.collection);
      if (!c.zooniverse_project_id) throw new UsageError(`${c.name} has no Zooniverse project: there is nothing to pull`);
      const queues = await ctx.queues();
      if (!queues) throw new UsageError('pull needs REDIS_URL (the deployment\'s Redis): the pull runs in the workers. Without it, the running service pulls on its own schedule');
      await repos.classifications.ensureCursor(c.zooniverse_project_id);
      await queues.add('pullClassifications', { projectId: c.zooniverse_project_id });
      process.stdout.write(`queued a pull of project ${c.zooniverse_project_id} for ${c.name}; \`bridge results status --collection ${o.collection}\` shows when it ran\n`);
    });

  const backfill = new Command('backfill')
    .description("Ask Panoptes for a classification export of the collection's project (one a day) and load it when ready")
    .requiredOption(...collectionOption)
    .action(async (o: { collection: string }) => {
      const repos = await ctx.repos();
      const c = await resolveCollection(repos, o.collection);
      const { buildClassificationSource } = await import('../app/classification-source.js');
      const source = buildClassificationSource(await ctx.config());
      if (!source) throw new UsageError('backfill needs the Zooniverse credentials (ZOONIVERSE_CLIENT_ID, ZOONIVERSE_CLIENT_SECRET)');
      const { requestBackfill, EXPORT_RECHECK_MS } = await import('../domain/results-backfill.js');
      const { systemClock } = await import('../domain/ports/clock.js');
      const { ConflictError } = await import('../domain/errors.js');
      let a;
      try {
        a = await requestBackfill({ repos, source, clock: systemClock, log: await ctx.log() }, c);
      } catch (e) {
        // One export a day: say when, as a refusal rather than a failure of the tool.
        if (e instanceof ConflictError) throw new UsageError(e.message);
        throw e;
      }
      const queues = await ctx.queues();
      if (queues) await queues.addLater('backfillExport', { projectId: a.projectId }, a.state === 'ready' ? 0 : EXPORT_RECHECK_MS);
      process.stdout.write(`${c.name}: ${a.message}${queues ? '' : ' (no REDIS_URL: the workers load it once they next look; `bridge results status` shows the state)'}\n`);
    });

  const recompute = new Command('recompute')
    .description("Rebuild the collection's reductions from every stored classification (audited)")
    .requiredOption(...collectionOption)
    .action(async (o: { collection: string }) => {
      const repos = await ctx.repos();
      const c = await resolveCollection(repos, o.collection);
      const { requestRecompute } = await import('../domain/results-recompute.js');
      const queues = await ctx.queues();
      const r = await requestRecompute({ repos, ...(queues ? { queues } : {}) }, operator(), c);
      process.stdout.write(`${c.name}: marked for a full recompute; ${r.queued ? 'the reduction job was queued' : 'no REDIS_URL: the running service\'s sweep queues it (within a few minutes)'}\n`);
    });

  return [status, pull, backfill, recompute];
}
