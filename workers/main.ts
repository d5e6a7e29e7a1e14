import type { Worker } from 'bullmq';
import type { Services } from '../src/app/service.js';
import { pipelineHandlers } from './handlers.js';
import { startWorkers } from './runner.js';
import { httpWebhookSender } from '../src/adapters/webhook/http-webhook-sender.js';
import { JOBS, QUEUE_NAMES } from '../src/domain/jobs.js';
import { queueSelectionProblem } from '../src/config/config.js';

/** How often a worker checks that Redis still holds the sweep's schedule. */
const SCHEDULE_CHECK_MS = 10_000;

/**
 * Composition root of a worker process (`bridge serve --role worker|all`):
 * the handlers on the services built once by the process, the workers on
 * the queues' own Redis connection, the sweep's and the polls' schedules.
 *
 * `queues` (`bridge serve --queues`, else WORKER_QUEUES, else every queue)
 * chooses the queues this process takes jobs from, so a deployment can add
 * processes that only convert. The schedules are registered only by a
 * process that runs the queue they feed: the sweep's (and the keeper that
 * restores it) by one serving `maintenance`, the polls' by one serving
 * `poll`, the pulls' by one serving `results`. Registering is an idempotent
 * upsert, so any number of processes doing it would be harmless; this keeps
 * N conversion-only workers from reading every collection at start-up, and
 * puts the keeper of the sweep where the sweep runs.
 */
export async function startWorkerRole(s: Services, o: { queues?: readonly string[] } = {}): Promise<{ workers: Worker[]; queues: string[]; close(): Promise<void> }> {
  const queues = [...new Set(o.queues ?? s.config.WORKER_QUEUES ?? QUEUE_NAMES)];
  const problem = queueSelectionProblem(queues);
  if (problem) throw new Error(`worker queues: ${problem}`);
  const serves = (q: string) => queues.includes(q);
  const handlers = pipelineHandlers(s.pipeline, s.review, { repos: s.repos, lock: s.lock, store: s.store, log: s.log, panoptes: s.panoptes }, s.queues, { sweepAgeMs: s.config.SWEEP_INTERVAL_SECONDS * 1000, releases: s.releases, zooniverse: s.zooniverseEffects, classificationSource: s.classificationSource, reduceSettings: s.reduceSettings, pullIntervalSeconds: s.config.RESULTS_PULL_INTERVAL_SECONDS, webhooks: httpWebhookSender({ allowHttp: s.config.BRIDGE_MODE === 'dev', allowedHosts: s.config.WEBHOOK_ALLOWED_HOSTS }) });
  const w = startWorkers(handlers, { connection: s.queues.connection, prefix: s.queues.prefix, concurrency: s.config.WORKER_CONCURRENCY, convertConcurrency: s.config.CONVERT_CONCURRENCY, log: s.log, lockMs: s.config.JOB_LOCK_SECONDS * 1000, queues });
  const schedules: string[] = [];
  let keeper: NodeJS.Timeout | undefined;
  if (serves(JOBS.sweep.queue)) {
    await s.queues.scheduleSweep(s.config.SWEEP_INTERVAL_SECONDS);
    schedules.push('sweep');
    // The sweep's schedule lives in Redis: if Redis loses it, this puts it back (and the sweep then re-registers the polls).
    keeper = setInterval(() => {
      s.queues
        .ensureSweep(s.config.SWEEP_INTERVAL_SECONDS)
        .then((restored) => restored && s.log.warn({ prefix: s.queues.prefix }, 'the sweep schedule was missing from Redis (flushed, replaced or lost with a killed job): restored'))
        .catch(() => {});
    }, SCHEDULE_CHECK_MS);
    keeper.unref();
  }
  if (serves(JOBS.poll.queue)) {
    const active = await s.repos.collections.list({ status: 'active' });
    for (const c of active) await s.queues.schedulePoll(c.id, c.poll_interval_seconds);
    schedules.push('polls');
    await warnAboutStrangers(s, new Set(active.map((c) => c.id)));
  }
  // The results loop: each project with the bridge's subjects is pulled on a schedule (the sweep keeps it registered).
  if (serves(JOBS.pullClassifications.queue) && s.classificationSource) {
    for (const p of await s.repos.classifications.projectsToPull()) await s.queues.schedulePull(p, s.config.RESULTS_PULL_INTERVAL_SECONDS);
    schedules.push('pulls');
  }
  const all = queues.length === QUEUE_NAMES.length;
  s.log.info({ queues, schedules, concurrency: s.config.WORKER_CONCURRENCY }, `workers started: serving ${all ? 'every queue' : `only ${queues.join(', ')}`} (${QUEUE_NAMES.join(', ')} exist)`);
  return {
    workers: w.workers,
    queues,
    close: () => {
      if (keeper) clearInterval(keeper);
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
