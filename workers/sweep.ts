import { systemClock } from '../src/domain/ports/clock.js';
import { sweep } from '../src/domain/sweep.js';
import { reevaluateDrift } from '../src/domain/reevaluation.js';
import { policyRef } from '../src/policies/policy-file.js';
import type { Handler, HandlerDeps } from './handler.js';
import { notifyPending } from './notify.js';

/** Re-queues work the database says is unfinished and untouched for a while (see domain/sweep.ts). */
export function sweepHandler(h: HandlerDeps): Handler<'sweep'> {
  return async () => {
    const r = await sweep({ repos: h.repos, store: h.pipeline.store, queues: h.queues, clock: systemClock, lostAfterMs: h.sweepAgeMs, uploading: !!h.release.panoptes, pullEverySeconds: h.classificationSource ? h.pullIntervalSeconds : undefined });
    // Facts edited outside any request (RELEASES_FILE, the policy file) reopen what they judged.
    const policy = h.review.policy.source.digest;
    const drift = await reevaluateDrift({ repos: h.repos, queues: h.queues, clock: systemClock, releases: h.releases, policyDigest: policy, policyRef: policyRef(h.review.policy) });
    await notifyPending(h);
    return { ...r, drift };
  };
}
