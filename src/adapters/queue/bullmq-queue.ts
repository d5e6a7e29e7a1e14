import { FlowProducer, Queue, type ConnectionOptions, type FlowJob } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { JOBS, QUEUE_NAMES, jobId, releaseRound, type JobName, type JobPayload } from '../../domain/jobs.js';
import type { JobQueue } from '../../domain/ports/job-queue.js';
import { COMMON_OPTS, jobOptions, retryOptions } from './bullmq-options.js';

/** The JobQueue port on BullMQ: typed, validated enqueueing into the catalogue's queues. */
export class BullMqJobQueue implements JobQueue {
  /** The raw queues, for what only BullMQ can show (the admin dashboard, tests). */
  readonly queues: Map<string, Queue>;
  private readonly flows: FlowProducer;

  constructor(readonly connection: ConnectionOptions, readonly prefix = 'bridge') {
    this.queues = new Map(QUEUE_NAMES.map((q) => [q, new Queue(q, { connection, prefix })]));
    this.flows = new FlowProducer({ connection, prefix });
  }

  /**
   * A release is one BullMQ flow: every image is published (children), then
   * the manifests are written, then the batches are uploaded (the parent). A
   * child that can never publish (the image was rejected meanwhile) does not
   * hold the rest back.
   */
  async release(collectionId: string, imageIds: string[], opts: { delayMs?: number } = {}): Promise<string> {
    const round = releaseRound(imageIds);
    const delay = Math.max(0, Math.round(opts.delayMs ?? 0));
    const node = <N extends JobName>(name: N, data: JobPayload<N>, children?: FlowJob[], delayMs = 0): FlowJob => ({
      name,
      queueName: JOBS[name].queue,
      data: JOBS[name].schema.parse(data),
      opts: { ...jobOptions(name, data), ignoreDependencyOnFailure: true, ...(delayMs ? { delay: delayMs } : {}) },
      ...(children ? { children } : {}),
    });
    // A publish job already waiting out an earlier delay keeps its id (and would be kept instead of the new one): bring it forward.
    if (delay === 0) await this.promotePublishes(imageIds);
    const publishes = imageIds.map((imageId) => node('publish', { imageId }, undefined, delay));
    await this.flows.add(node('upload', { collectionId, round }, [node('manifest', { collectionId, round }, publishes)]));
    return round;
  }

  private async promotePublishes(imageIds: string[]): Promise<void> {
    const q = this.queue(JOBS.publish.queue);
    for (const imageId of imageIds) {
      const job = await q.getJob(jobId('publish', { imageId }));
      if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
    }
  }

  queue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`no queue ${name}`);
    return q;
  }

  async add<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void> {
    const def = JOBS[name];
    const data = def.schema.parse(payload);
    await this.queue(def.queue).add(name, data, jobOptions(name, data as JobPayload<N>));
  }

  async addBulk<N extends JobName>(name: N, payloads: readonly JobPayload<N>[]): Promise<void> {
    if (payloads.length === 0) return;
    const def = JOBS[name];
    // Every payload is validated before any is sent: a bad one queues nothing.
    const jobs = payloads.map((payload) => {
      const data = def.schema.parse(payload);
      return { name, data, opts: jobOptions(name, data as JobPayload<N>) };
    });
    // BullMQ pipelines the same insert script add() runs, so a job id already present is kept, as with add().
    await this.queue(def.queue).addBulk(jobs);
  }

  async schedulePoll(collectionId: string, everySeconds: number): Promise<void> {
    await this.queue(JOBS.poll.queue).upsertJobScheduler(`poll-${collectionId}`, { every: everySeconds * 1000 }, { name: 'poll', data: { collectionId }, opts: { ...retryOptions('poll'), ...COMMON_OPTS } });
  }

  async unschedulePoll(collectionId: string): Promise<void> {
    await this.queue(JOBS.poll.queue).removeJobScheduler(`poll-${collectionId}`);
  }

  async schedulePull(projectId: string, everySeconds: number): Promise<void> {
    const data = JOBS.pullClassifications.schema.parse({ projectId });
    await this.queue(JOBS.pullClassifications.queue).upsertJobScheduler(`pull-classifications-${projectId}`, { every: everySeconds * 1000 }, { name: 'pullClassifications', data, opts: { ...retryOptions('pullClassifications'), ...COMMON_OPTS } });
  }

  async unschedulePull(projectId: string): Promise<void> {
    await this.queue(JOBS.pullClassifications.queue).removeJobScheduler(`pull-classifications-${projectId}`);
  }

  async pullSchedules(): Promise<string[]> {
    const out: string[] = [];
    const prefix = 'pull-classifications-';
    for (let start = 0; ; start += 500) {
      const page = await this.queue(JOBS.pullClassifications.queue).getJobSchedulers(start, start + 499, true);
      for (const j of page) if (j.key.startsWith(prefix)) out.push(j.key.slice(prefix.length));
      if (page.length < 500) return out;
    }
  }

  async addLater<N extends JobName>(name: N, payload: JobPayload<N>, delayMs: number): Promise<void> {
    const def = JOBS[name];
    const data = def.schema.parse(payload);
    const delay = Math.max(0, Math.round(delayMs));
    const opts = jobOptions(name, data as JobPayload<N>);
    await this.queue(def.queue).add(name, data, { ...opts, jobId: `${opts.jobId}-at-${Math.floor((Date.now() + delay) / 1000)}`, ...(delay ? { delay } : {}) });
  }

  async scheduleSweep(everySeconds: number): Promise<void> {
    await this.queue(JOBS.sweep.queue).upsertJobScheduler('sweep', { every: everySeconds * 1000 }, { name: 'sweep', data: {}, opts: { ...COMMON_OPTS } });
  }

  /**
   * Puts the sweep's schedule back if Redis no longer has it (Redis flushed
   * or replaced, or a schedule lost with a killed worker's job); true when it
   * had to. Without it nothing would re-queue lost work until a worker restarts.
   */
  async ensureSweep(everySeconds: number): Promise<boolean> {
    if (await this.queue(JOBS.sweep.queue).getJobScheduler('sweep')) return false;
    await this.scheduleSweep(everySeconds);
    return true;
  }

  /** Collection ids of the poll schedules in this prefix. */
  async pollSchedules(): Promise<string[]> {
    const out: string[] = [];
    for (let start = 0; ; start += 500) {
      const page = await this.queue(JOBS.poll.queue).getJobSchedulers(start, start + 499, true);
      for (const j of page) if (j.key.startsWith('poll-')) out.push(j.key.slice('poll-'.length));
      if (page.length < 500) return out;
    }
  }

  /**
   * Other key prefixes holding this bridge's queues in the same Redis
   * database: another deployment (or this one before QUEUE_PREFIX changed)
   * sharing it. Found by their queues' metadata keys, without reading jobs.
   */
  async otherPrefixes(): Promise<string[]> {
    const client = new Redis({ ...(this.connection as RedisOptions), lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const found = new Set<string>();
    try {
      await client.connect();
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `*:${JOBS.poll.queue}:meta`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) found.add(k.slice(0, -`:${JOBS.poll.queue}:meta`.length));
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
    found.delete(this.prefix);
    return [...found].sort();
  }

  async depths(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, q] of this.queues) out[name] = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.flows.close();
  }
}
