import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import { JOBS, QUEUE_NAMES, type JobName } from '../src/domain/jobs.js';
import { retryDelay } from '../src/adapters/queue/bullmq-options.js';
import { BACKOFF_TYPE } from '../src/adapters/queue/bullmq-options.js';
import type { Logger } from '../src/domain/ports/logger.js';
import type { HandlerContext, Handlers } from './handler.js';

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix?: string;
  concurrency: number;
  /** Convert jobs at once (CONVERT_CONCURRENCY); their stamps share the process's conversion pool. Default: half of concurrency. */
  convertConcurrency?: number;
  log: Logger;
  /** Queues this process serves (default: all). */
  queues?: string[];
  /** Lock duration; a crashed worker's jobs are taken over after about this long. */
  lockMs?: number;
}

/**
 * Starts one BullMQ worker per queue. Refuses to start if any job in the
 * catalogue has no handler, and re-validates every payload before its
 * handler sees it.
 */
export function startWorkers(handlers: Handlers, o: WorkerOptions): { workers: Worker[]; close(timeoutMs: number): Promise<void> } {
  for (const name of Object.keys(JOBS) as JobName[]) {
    if (typeof handlers[name] !== 'function') throw new Error(`no handler for job "${name}": refusing to start`);
  }
  const serve = o.queues ?? QUEUE_NAMES;
  const workers = serve.map(
    (queue) =>
      new Worker(
        queue,
        async (job: Job) => {
          const name = job.name as JobName;
          const def = JOBS[name];
          if (!def || def.queue !== queue) throw new Error(`job ${job.name} does not belong to queue ${queue}`);
          const payload = def.schema.parse(job.data);
          const started = Date.now();
          const result = await (handlers[name] as (p: unknown, c: HandlerContext) => Promise<unknown>)(payload, {
            attemptsMade: job.attemptsMade,
            maxAttempts: job.opts.attempts ?? 1,
          });
          o.log.debug({ job: name, jobId: job.id, ms: Date.now() - started }, 'job done');
          return result;
        },
        {
          connection: o.connection,
          prefix: o.prefix ?? 'bridge',
          concurrency: queue === 'convert' ? (o.convertConcurrency ?? Math.max(1, Math.floor(o.concurrency / 2))) : o.concurrency,
          lockDuration: o.lockMs ?? 30_000,
          stalledInterval: o.lockMs ?? 30_000,
          settings: {
            backoffStrategy: (attemptsMade, type, err, job) => {
              if (type !== BACKOFF_TYPE) throw new Error(`unknown backoff type ${type}`);
              const base = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 5_000;
              return retryDelay(base, attemptsMade, err);
            },
          },
        },
      ),
  );
  for (const w of workers) {
    w.on('failed', (job, err) => o.log.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
    w.on('error', (err) => o.log.error({ err: err.message }, 'worker error'));
  }
  return {
    workers,
    // Stop taking jobs, let running ones finish, then give up after the timeout.
    async close(timeoutMs: number) {
      const graceful = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([graceful, timer])) === 'timeout') {
        o.log.warn({ timeoutMs }, 'jobs still running at shutdown; forcing close (they will be retried)');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}
