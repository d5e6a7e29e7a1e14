import { Command, Option } from 'commander';
import type { CliContext } from './context.js';
import { UsageError } from './exit-codes.js';

/**
 * `bridge serve --role api|worker|all [--queues LIST]`: one process kind,
 * shut down cleanly on SIGTERM/SIGINT. --queues (or WORKER_QUEUES) makes a
 * worker take jobs from those queues only: conversion-only processes added
 * beside the others on the same Postgres, Redis and S3.
 */
export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('Run the API, the workers, or both')
    .addOption(new Option('--role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .option('--queues <names>', "the queues this process's workers take jobs from, comma-separated (e.g. convert); default: WORKER_QUEUES, else all")
    .action(async (o: { role: 'api' | 'worker' | 'all'; queues?: string }) => {
      let queues: string[] | undefined;
      if (o.queues !== undefined) {
        if (o.role === 'api') throw new UsageError('--queues chooses the queues of a worker; --role api runs none (use --role worker)');
        queues = [...new Set(o.queues.split(',').map((x) => x.trim()).filter(Boolean))];
        // Checked here, not by commander: the catalogue of queues loads zod, which `bridge --help` has no use for.
        const { queueSelectionProblem } = await import('../config/config.js');
        const problem = queueSelectionProblem(queues);
        if (problem) throw new UsageError(`--queues ${o.queues}: ${problem}`);
      }
      const config = await ctx.config();
      // A split deployment shares its database and its queue: on the embedded
      // PGlite and a private Redis each process would see only its own.
      if (o.role !== 'all' && (!config.DATABASE_URL || !config.REDIS_URL)) {
        const missing = [config.DATABASE_URL ? '' : 'DATABASE_URL (a shared Postgres)', config.REDIS_URL ? '' : 'REDIS_URL (a shared Redis)'].filter(Boolean).join(' and ');
        throw new UsageError(`--role ${o.role} runs one part of a deployment whose other parts run elsewhere: set ${missing}, or run both parts in one process with --role all (the default)`);
      }
      // The API's port opens first: the database and migrations take seconds
      // on PGlite, and meanwhile /healthz answers and /readyz says "starting".
      const listener = o.role === 'worker' ? undefined : await (await import('../app/early-listener.js')).listenEarly(config.HOST, config.PORT);
      // Loaded here, not at the top, so `bridge convert` starts without the service stack.
      const { buildServices } = await import('../app/service.js');
      const { startApiRole } = await import('../app/api-server.js');
      const { startWorkerRole } = await import('../../workers/main.js');
      let s;
      try {
        s = await buildServices(config);
      } catch (e) {
        await listener?.close();
        throw e;
      }
      const stops: (() => Promise<void>)[] = [];
      if (listener) stops.push((await startApiRole(s, config.PORT, { listener })).close);
      if (o.role !== 'api') stops.push((await startWorkerRole(s, queues ? { queues } : {})).close);
      await new Promise<void>((resolve) => {
        const stop = async (signal: string) => {
          s.log.info({ signal }, 'shutting down: no new work, finishing running jobs');
          for (const f of stops) await f();
          await s.close();
          resolve();
        };
        process.once('SIGTERM', () => void stop('SIGTERM'));
        process.once('SIGINT', () => void stop('SIGINT'));
      });
    });
}
