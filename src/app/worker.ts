import { startWorkers } from '../jobs/workers.js';
import { pipelineHandlers } from '../jobs/handlers.js';
import { listCollections } from '../db/repositories/collections.js';
import type { Worker } from 'bullmq';
import type { Services } from './service.js';
import { httpWebhookSender } from '../adapters/webhook/http-webhook-sender.js';

/** Composition root of a worker process: handlers, schedulers, the sweep. */
export async function startWorkerRole(s: Services): Promise<{ workers: Worker[]; close(): Promise<void> }> {
  const url = new URL(s.redisUrl);
  const connection = { host: url.hostname, port: Number(url.port || 6379), username: url.username || undefined, password: url.password || undefined, tls: url.protocol === 'rediss:' ? {} : undefined, maxRetriesPerRequest: null };
  const handlers = pipelineHandlers(s.pipeline, s.review, { repos: s.repos, lock: s.lock, store: s.store, log: s.log, panoptes: s.panoptes }, s.queues, { sweepAgeMs: s.config.SWEEP_INTERVAL_SECONDS * 1000, webhooks: httpWebhookSender() });
  const w = startWorkers(handlers, { connection, concurrency: s.config.WORKER_CONCURRENCY, log: s.log, lockMs: s.config.JOB_LOCK_SECONDS * 1000 });
  await s.queues.scheduleSweep(s.config.SWEEP_INTERVAL_SECONDS);
  for (const c of await listCollections(s.db, { status: 'active' })) await s.queues.schedulePoll(c.id, c.poll_interval_seconds);
  s.log.info({ queues: w.workers.map((x) => x.name), concurrency: s.config.WORKER_CONCURRENCY }, 'workers started');
  return { workers: w.workers, close: () => w.close(s.config.SHUTDOWN_TIMEOUT_SECONDS * 1000) };
}
