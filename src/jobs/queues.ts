import { Queue, type ConnectionOptions } from 'bullmq';
import { JOBS, QUEUE_NAMES, jobOptions, type JobName, type JobPayload } from './catalogue.js';

/** The producer side: typed, validated enqueueing into the catalogue's queues. */
export class JobQueues {
  readonly queues: Map<string, Queue>;

  constructor(readonly connection: ConnectionOptions, readonly prefix = 'bridge') {
    this.queues = new Map(QUEUE_NAMES.map((q) => [q, new Queue(q, { connection, prefix })]));
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

  /** One repeating poll per active collection; re-running it updates the interval. */
  async schedulePoll(collectionId: string, everySeconds: number): Promise<void> {
    await this.queue(JOBS.poll.queue).upsertJobScheduler(`poll-${collectionId}`, { every: everySeconds * 1000 }, { name: 'poll', data: { collectionId }, opts: { attempts: JOBS.poll.opts.attempts, backoff: JOBS.poll.opts.backoff, removeOnComplete: true, removeOnFail: true } });
  }

  async unschedulePoll(collectionId: string): Promise<void> {
    await this.queue(JOBS.poll.queue).removeJobScheduler(`poll-${collectionId}`);
  }

  async scheduleSweep(everySeconds: number): Promise<void> {
    await this.queue(JOBS.sweep.queue).upsertJobScheduler('sweep', { every: everySeconds * 1000 }, { name: 'sweep', data: {}, opts: { removeOnComplete: true, removeOnFail: true } });
  }

  async depths(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, q] of this.queues) out[name] = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
