import type { JobName, JobPayload } from '../../domain/jobs.js';

/**
 * The producer side of the job system, as the API, the CLI and the job
 * handlers use it. The catalogue (src/domain/jobs.ts) says which jobs
 * exist and what they carry; an adapter (src/adapters/queue/) says how they
 * reach the workers. Nothing here knows the queue library.
 */
export interface JobQueue {
  /** Validates the payload against the catalogue and enqueues it; the same work already pending is not queued twice. */
  add<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void>;
  /**
   * add() for many payloads of one job in one round trip: each job gets the
   * same id as add() would give it, so work already pending is not queued
   * twice. Not atomic: on failure some may be queued (the sweep finds the rest).
   */
  addBulk<N extends JobName>(name: N, payloads: readonly JobPayload<N>[]): Promise<void>;
  /**
   * Publishes the given approved images, then writes the collection's
   * manifests, then uploads its batches, in that order; returns the
   * release's round (the same images give the same round). With `delayMs`
   * the publishing waits that long (a reviewer's publishing delay); with 0,
   * publishing already waiting for its delay is started now.
   */
  release(collectionId: string, imageIds: string[], opts?: { delayMs?: number }): Promise<string>;
  /** Polls an active collection every `everySeconds`; calling it again changes the interval. */
  schedulePoll(collectionId: string, everySeconds: number): Promise<void>;
  unschedulePoll(collectionId: string): Promise<void>;
  /** Pulls a Zooniverse project's new classifications every `everySeconds` (results loop); calling it again changes the interval. */
  schedulePull(projectId: string, everySeconds: number): Promise<void>;
  unschedulePull(projectId: string): Promise<void>;
  /** Project ids with a pull schedule. */
  pullSchedules(): Promise<string[]>;
  /**
   * Queues the same work again after `delayMs`, even while the job asking
   * runs (add() would see its own id and drop it): a handler's follow-up
   * (the next pages of a pull, an export still being built). Follow-ups
   * asked for the same second are one job.
   */
  addLater<N extends JobName>(name: N, payload: JobPayload<N>, delayMs: number): Promise<void>;
  /** Runs the sweep (re-enqueueing work whose job was lost) every `everySeconds`. */
  scheduleSweep(everySeconds: number): Promise<void>;
  /** Jobs per queue and state (waiting, active, delayed, failed, prioritized), for metrics. */
  depths(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}
