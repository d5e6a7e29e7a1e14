import { releaseRound } from '../src/domain/jobs.js';
import { withdrawAbandoned } from '../src/domain/publish.js';
import { approvedUnpublished, stalledReleases } from '../src/domain/release.js';
import type { Handler, HandlerDeps } from './handler.js';
import { notifyPending } from './notify.js';

/**
 * The database is the truth: re-enqueues work whose job was lost (job ids
 * dedupe the rest), withdraws abandoned publications, drops expired
 * sessions, and re-registers every active collection's poll.
 */
export function sweepHandler(h: HandlerDeps): Handler<'sweep'> {
  return async () => {
    const { store } = h.pipeline;
    const { queues } = h;
    const c = await h.repos.artifacts.sweepCandidates(new Date(Date.now() - h.sweepAgeMs), 5000);
    for (const artifactId of c.discovered) await queues.add('retrieve', { artifactId });
    for (const g of c.groups) await queues.add('convert', g);
    for (const collectionId of c.unevaluated) await queues.add('evaluate', { collectionId, after: 'sweep' });
    // Approved images whose release was lost, and batches that never finished uploading.
    const unreleased = await approvedUnpublished(h.release.repos, new Date(Date.now() - h.sweepAgeMs));
    for (const [collectionId, ids] of unreleased) await queues.release(collectionId, ids);
    // Batches whose manifest or upload job was lost, or that wait on volunteers (paced uploads) and need asking again.
    const stalled = await stalledReleases(h.release.repos, new Date(Date.now() - h.sweepAgeMs));
    for (const m of stalled.manifest) await queues.add('manifest', { collectionId: m.collectionId, round: `sweep-${releaseRound(m.marks)}` });
    if (h.release.panoptes) for (const u of stalled.upload) await queues.add('upload', { collectionId: u.collectionId, round: `sweep-${releaseRound(u.marks)}` });
    await withdrawAbandoned({ repos: h.repos, store }, 'sweeper');
    await h.repos.sessions.purgeExpired();
    await notifyPending(h);
    const active = await h.repos.collections.list({ status: 'active' });
    for (const col of active) await queues.schedulePoll(col.id, col.poll_interval_seconds);
    return { retrieve: c.discovered.length, convert: c.groups.length, evaluate: c.unevaluated.length, release: unreleased.size, stalled: stalled.manifest.length + stalled.upload.length, schedulers: active.length };
  };
}
