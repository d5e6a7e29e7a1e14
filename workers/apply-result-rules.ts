import { UpstreamError } from '../src/domain/errors.js';
import { applyResultRules } from '../src/domain/results-effects.js';
import type { Handler, HandlerDeps } from './handler.js';
import { notifyPending } from './notify.js';

/**
 * Applies a collection's results rules (queued after each reduction, and
 * when the rules are switched on). Idempotent: the effects ledger records
 * each effect once and settles unknown outcomes by reading Panoptes, so a
 * repeated or retried job never acts twice. Effects read back as not done
 * make the job fail on purpose, so BullMQ's backoff runs it again.
 */
export function applyResultRulesHandler(h: HandlerDeps): Handler<'applyResultRules'> {
  return async ({ collectionId }) => {
    const report = await applyResultRules({ repos: h.repos, zooniverse: h.zooniverse, log: h.pipeline.log, lock: h.release.lock }, collectionId);
    await notifyPending(h);
    if (report.retryLater > 0) throw new UpstreamError(`${report.retryLater} results-rule effects were not found on Zooniverse after an unknown outcome; they are sent again on the next attempt`);
    return report;
  };
}
