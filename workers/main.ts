import type { Worker } from 'bullmq';
import type { Services } from '../src/app/service.js';
import { pipelineHandlers } from './handlers.js';
import { startWorkers } from './runner.js';
import { httpWebhookSender } from '../src/adapters/webhook/http-webhook-sender.js';

/**
 * Composition root of a worker process (`bridge serve --role worker|all`):
 * the handlers on the services built once by the process, the workers on
 * the queues' own Redis connection, the sweep's and the polls' schedules.
 */
export async function startWorkerRole(s: Services): Promise<{ workers: Worker[]; close(): Promise<void> }> {
  const handlers = pipelineHandlers(s.pipeline, s.review, { repos: s.repos, lock: s.lock, store: s.store, log: s.log, panoptes: s.panoptes }, s.queues, { sweepAgeMs: s.config.SWEEP_INTERVAL_SECONDS * 1000, releases: s.releases, webhooks: httpWebhookSender({ allowHttp: s.config.BRIDGE_MODE === 'dev', allowedHosts: s.config.WEBHOOK_ALLOWED_HOSTS }) });
  const w = startWorkers(handlers, { connection: s.queues.connection, concurrency: s.config.WORKER_CONCURRENCY, log: s.log, lockMs: s.config.JOB_LOCK_SECONDS * 1000 });
  await s.queues.scheduleSweep(s.config.SWEEP_INTERVAL_SECONDS);
  for (const c of await s.repos.collections.list({ status: 'active' })) await s.queues.schedulePoll(c.id, c.poll_interval_seconds);
  s.log.info({ queues: w.workers.map((x) => x.name), concurrency: s.config.WORKER_CONCURRENCY }, 'workers started');
  return { workers: w.workers, close: () => w.close(s.config.SHUTDOWN_TIMEOUT_SECONDS * 1000) };
}
