import type { JobName, JobPayload } from '../src/domain/jobs.js';
import type { JobQueue } from '../src/domain/ports/job-queue.js';
import type { PipelineDeps } from '../src/domain/pipeline.js';
import type { ReviewDeps } from '../src/domain/review.js';
import type { ReleaseDeps } from '../src/domain/release.js';
import type { Repositories } from '../src/domain/ports/repositories.js';
import type { WebhookSender } from '../src/domain/ports/webhook-sender.js';
import type { ReleaseCatalogue } from '../src/domain/releases.js';
import type { ZooniverseEffects } from '../src/domain/ports/zooniverse-effects.js';
import type { ClassificationSource } from '../src/domain/ports/classification-source.js';
import type { CollectionReduceSettings } from '../src/domain/results-reduce.js';

/** What the runner tells a handler about the job's retries, so the last attempt can record why it gave up. */
export interface HandlerContext {
  attemptsMade: number;
  maxAttempts: number;
}

export type Handler<N extends JobName> = (payload: JobPayload<N>, ctx: HandlerContext) => Promise<unknown>;
/** One handler per job of the catalogue: a job without one is a type error. */
export type Handlers = { [N in JobName]: Handler<N> };

/** Everything the handlers call: the domain's dependencies, and the queue for the work that follows. */
export interface HandlerDeps {
  pipeline: PipelineDeps;
  review: ReviewDeps;
  release: ReleaseDeps;
  queues: JobQueue;
  repos: Repositories;
  webhooks: WebhookSender;
  /** Work untouched for this long is considered lost by the sweep. */
  sweepAgeMs: number;
  /** The operator's release mapping in force: the sweep re-derives releases from it. */
  releases: ReleaseCatalogue;
  /** Acting on Zooniverse for the results rules (retire, add to a set); absent without Zooniverse credentials. */
  zooniverse?: ZooniverseEffects;
  /** Where classifications come back from (pull and export); absent without Zooniverse credentials. */
  classificationSource?: ClassificationSource;
  /** A collection's reduce settings (from its results rules); absent: the defaults. */
  reduceSettings?: (collectionId: string) => Promise<CollectionReduceSettings | null>;
  /** RESULTS_PULL_INTERVAL_SECONDS: the sweep keeps each project's pull scheduled at it. */
  pullIntervalSeconds?: number;
}
