import { Command, Option } from 'commander';
import type { CliContext } from './context.js';

/** `bridge serve --role api|worker|all`: one process kind, shut down cleanly on SIGTERM/SIGINT. */
export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('Run the API, the workers, or both')
    .addOption(new Option('--role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .action(async (o: { role: 'api' | 'worker' | 'all' }) => {
      const config = ctx.config();
      // Loaded here, not at the top, so `bridge convert` starts without the service stack.
      const { buildServices } = await import('../app/service.js');
      const { startApiRole } = await import('../app/api-server.js');
      const { startWorkerRole } = await import('../../workers/main.js');
      const s = await buildServices(config);
      const stops: (() => Promise<void>)[] = [];
      if (o.role !== 'worker') stops.push((await startApiRole(s)).close);
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
