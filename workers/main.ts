import type { Worker } from 'bullmq';
import type { Services } from '../src/app/service.js';
import { pipelineHandlers } from './handlers.js';
import { startWorkers } from './runner.js';
import { httpWebhookSender } from '../src/adapters/webhook/http-webhook-sender.js';

/** How often a worker checks that Redis still holds the sweep's schedule. */
const SCHEDULE_CHECK_MS = 10_000;

/**
 * Composition root of a worker process (`bridge serve --role worker|all`):
 * the handlers on the services built once by the process, the workers on
 * the queues' own Redis connection, the sweep's and the polls' schedules.
 */
export async function startWorkerRole(s: Services): Promise<{ workers: Worker[]; close(): Promise<void> }> {
  const handlers = pipelineHandlers(s.pipeline, s.review, { repos: s.repos, lock: s.lock, store: s.store, log: s.log, panoptes: s.panoptes }, s.queues, { sweepAgeMs: s.config.SWEEP_INTERVAL_SECONDS * 1000, releases: s.releases, zooniverse: s.zooniverseEffects, classificationSource: s.classificationSource, reduceSettings: s.reduceSettings, pullIntervalSeconds: s.config.RESULTS_PULL_INTERVAL_SECONDS, webhooks: httpWebhookSender({ allowHttp: s.config.BRIDGE_MODE === 'dev', allowedHosts: s.config.WEBHOOK_ALLOWED_HOSTS }) });
  const w = startWorkers(handlers, { connection: s.queues.connection, prefix: s.queues.prefix, concurrency: s.config.WORKER_CONCURRENCY, log: s.log, lockMs: s.config.JOB_LOCK_SECONDS * 1000 });
  await s.queues.scheduleSweep(s.config.SWEEP_INTERVAL_SECONDS);
  const active = await s.repos.collections.list({ status: 'active' });
  for (const c of active) await s.queues.schedulePoll(c.id, c.poll_interval_seconds);
  // The results loop: each project with the bridge's subjects is pulled on a schedule (the sweep keeps it registered).
  if (s.classificationSource) for (const p of await s.repos.classifications.projectsToPull()) await s.queues.schedulePull(p, s.config.RESULTS_PULL_INTERVAL_SECONDS);
  await warnAboutStrangers(s, new Set(active.map((c) => c.id)));
  // The sweep's schedule lives in Redis: if Redis loses it, this puts it back (and the sweep then re-registers the polls).
  const keeper = setInterval(() => {
    s.queues
      .ensureSweep(s.config.SWEEP_INTERVAL_SECONDS)
      .then((restored) => restored && s.log.warn({ prefix: s.queues.prefix }, 'the sweep schedule was missing from Redis (flushed, replaced or lost with a killed job): restored'))
      .catch(() => {});
  }, SCHEDULE_CHECK_MS);
  keeper.unref();
  s.log.info({ queues: w.workers.map((x) => x.name), concurrency: s.config.WORKER_CONCURRENCY }, 'workers started');
  return {
    workers: w.workers,
    close: () => {
      clearInterval(keeper);
      return w.close(s.config.SHUTDOWN_TIMEOUT_SECONDS * 1000);
    },
  };
}

/**
 * Says so when this Redis database holds work that is not this
 * deployment's: poll schedules for collections this database does not have
 * as active (left from a deleted database, or a second deployment using the
 * same QUEUE_PREFIX), or queues under other prefixes. Nothing is removed:
 * the operator decides.
 */
async function warnAboutStrangers(s: Services, active: Set<string>): Promise<void> {
  try {
    const strangers = (await s.queues.pollSchedules()).filter((id) => !active.has(id));
    if (strangers.length) s.log.warn({ prefix: s.queues.prefix, schedules: strangers.length, examples: strangers.slice(0, 5) }, `the queue prefix ${s.queues.prefix} holds poll schedules for ${strangers.length} collection(s) this database does not have as active: another deployment may share this Redis database and QUEUE_PREFIX`);
    const others = await s.queues.otherPrefixes();
    if (others.length) s.log.warn({ prefix: s.queues.prefix, others }, `this Redis database also holds bridge queues under other prefixes (${others.join(', ')}): another deployment, or an earlier QUEUE_PREFIX; give each deployment its own Redis database`);
  } catch (e) {
    s.log.warn({ err: (e as Error).message }, 'could not check the Redis database for other deployments');
  }
}
