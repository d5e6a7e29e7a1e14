import type { JobQueue } from '../src/domain/ports/job-queue.js';
import type { PipelineDeps } from '../src/domain/pipeline.js';
import type { ReviewDeps } from '../src/domain/review.js';
import type { ReleaseDeps } from '../src/domain/release.js';
import type { WebhookSender } from '../src/domain/ports/webhook-sender.js';
import type { ReleaseCatalogue } from '../src/domain/releases.js';
import type { Handlers } from './handler.js';
import { pollHandler } from './poll.js';
import { retrieveHandler } from './retrieve.js';
import { convertHandler } from './convert.js';
import { evaluateHandler } from './evaluate.js';
import { publishHandler } from './publish.js';
import { manifestHandler } from './manifest.js';
import { uploadHandler } from './upload.js';
import { notifyHandler } from './notify.js';
import { sweepHandler } from './sweep.js';
import { applyResultRulesHandler } from './apply-result-rules.js';
import { pullClassificationsHandler } from './pull-classifications.js';
import { backfillExportHandler } from './backfill-export.js';
import { reduceResultsHandler } from './reduce-results.js';
import type { ClassificationSource } from '../src/domain/ports/classification-source.js';
import type { CollectionReduceSettings } from '../src/domain/results-reduce.js';
import type { ZooniverseEffects } from '../src/domain/ports/zooniverse-effects.js';

/** The handler of every job in the catalogue, sharing one set of dependencies. */
export function pipelineHandlers(d: PipelineDeps, review: ReviewDeps, release: ReleaseDeps, queues: JobQueue, opts: { sweepAgeMs: number; webhooks: WebhookSender; releases: ReleaseCatalogue; zooniverse?: ZooniverseEffects; classificationSource?: ClassificationSource; reduceSettings?: (collectionId: string) => Promise<CollectionReduceSettings | null>; pullIntervalSeconds?: number }): Handlers {
  const h = { pipeline: d, review, release, queues, repos: review.repos, webhooks: opts.webhooks, sweepAgeMs: opts.sweepAgeMs, releases: opts.releases, zooniverse: opts.zooniverse, classificationSource: opts.classificationSource, reduceSettings: opts.reduceSettings, pullIntervalSeconds: opts.pullIntervalSeconds };
  return {
    poll: pollHandler(h),
    retrieve: retrieveHandler(h),
    convert: convertHandler(h),
    evaluate: evaluateHandler(h),
    publish: publishHandler(h),
    manifest: manifestHandler(h),
    upload: uploadHandler(h),
    notify: notifyHandler(h),
    sweep: sweepHandler(h),
    applyResultRules: applyResultRulesHandler(h),
    pullClassifications: pullClassificationsHandler(h),
    backfillExport: backfillExportHandler(h),
    reduceResults: reduceResultsHandler(h),
  };
}
