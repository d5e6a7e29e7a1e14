import { Command, Option } from 'commander';
import type { CliContext } from './context.js';
import { UsageError } from './exit-codes.js';
import { listenEarly } from '../app/early-listener.js';

/** `bridge serve --role api|worker|all`: one process kind, shut down cleanly on SIGTERM/SIGINT. */
export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('Run the API, the workers, or both')
    .addOption(new Option('--role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .action(async (o: { role: 'api' | 'worker' | 'all' }) => {
      const config = ctx.config();
      // A split deployment shares its database and its queue: on the embedded
      // PGlite and a private Redis each process would see only its own.
      if (o.role !== 'all' && (!config.DATABASE_URL || !config.REDIS_URL)) {
        const missing = [config.DATABASE_URL ? '' : 'DATABASE_URL (a shared Postgres)', config.REDIS_URL ? '' : 'REDIS_URL (a shared Redis)'].filter(Boolean).join(' and ');
        throw new UsageError(`--role ${o.role} runs one part of a deployment whose other parts run elsewhere: set ${missing}, or run both parts in one process with --role all (the default)`);
      }
      // The API's port opens first: the database and migrations take seconds
      // on PGlite, and meanwhile /healthz answers and /readyz says "starting".
      const listener = o.role === 'worker' ? undefined : await listenEarly(config.HOST, config.PORT);
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
      if (o.role !== 'api') stops.push((await startWorkerRole(s)).close);
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
