import { releaseRound } from './jobs.js';
import type { Clock } from './ports/clock.js';
import type { JobQueue } from './ports/job-queue.js';
import type { ObjectStore } from './ports/object-store.js';
import type { Repositories } from './ports/repositories.js';
import { withdrawAbandoned } from './publish.js';
import { settleBatches } from './batch-settlement.js';
import { approvedUnpublished, stalledReleases } from './release.js';

/**
 * The database is the truth and the queue a to-do list: the sweep finds
 * work the database says is unfinished and untouched for a while (its job
 * was lost with Redis, or failed for good before the cause went away) and
 * queues it again; job ids keep anything still queued from running twice.
 * It also takes back public objects of publishes that were interrupted,
 * drops expired sessions and re-registers every active collection's poll.
 */
export interface SweepDeps {
  repos: Repositories;
  store: ObjectStore;
  queues: JobQueue;
  clock: Clock;
  /** Work untouched for this long is taken to be lost. */
  lostAfterMs: number;
  /** Zooniverse credentials are configured: stalled uploads are worth offering again. */
  uploading: boolean;
  /** Keep each project with the bridge's subjects pulled at this interval (results loop); absent: no pulls. */
  pullEverySeconds?: number;
}

export interface SweepReport {
  retrieve: number;
  convert: number;
  evaluate: number;
  release: number;
  stalled: number;
  schedulers: number;
}

export async function sweep(d: SweepDeps): Promise<SweepReport> {
  const { repos, queues } = d;
  const olderThan = new Date(d.clock.now().getTime() - d.lostAfterMs);
  const c = await repos.artifacts.sweepCandidates(olderThan, 5000);
  for (const artifactId of c.discovered) await queues.add('retrieve', { artifactId });
  for (const g of c.groups) await queues.add('convert', g);
  for (const collectionId of c.unevaluated) await queues.add('evaluate', { collectionId, after: 'sweep' });
  // Approved images whose release was lost, and batches that never finished uploading.
  const unreleased = await approvedUnpublished(repos, olderThan);
  for (const [collectionId, ids] of unreleased) await queues.release(collectionId, ids);
  // Batches whose manifest or upload job was lost, or that wait on volunteers (paced uploads) and need asking again.
  const stalled = await stalledReleases(repos, olderThan);
  for (const m of stalled.manifest) await queues.add('manifest', { collectionId: m.collectionId, round: `sweep-${releaseRound(m.marks)}` });
  if (d.uploading) for (const u of stalled.upload) await queues.add('upload', { collectionId: u.collectionId, round: `sweep-${releaseRound(u.marks)}` });
  await withdrawAbandoned({ repos, store: d.store }, 'sweeper');
  await repos.sessions.purgeExpired();
  const active = await repos.collections.list({ status: 'active' });
  for (const col of active) await queues.schedulePoll(col.id, col.poll_interval_seconds);
  // Results loop: a project gets its pull schedule once the bridge has subjects in it (and keeps it if Redis lost it).
  const pulled = new Set(d.pullEverySeconds ? await repos.classifications.projectsToPull() : []);
  for (const p of pulled) await queues.schedulePull(p, d.pullEverySeconds!);
  // A project whose collections were removed (or no credentials any more): its schedule goes.
  for (const p of await queues.pullSchedules()) if (!pulled.has(p)) await queues.unschedulePull(p);
  // Classifications stored but never reduced (the reduction's job was lost).
  for (const collectionId of await repos.reductions.behind(olderThan, 500)) await queues.add('reduceResults', { collectionId });
  // Results rules whose effects on Zooniverse were left unsettled (a lost job, a crash mid-send): applied again, which reads back before sending.
  if (d.uploading) for (const collectionId of await repos.resultEffects.unsettledCollections(olderThan)) await queues.add('applyResultRules', { collectionId });
  // A batch whose last step was lost before it could announce itself.
  for (const col of active) await settleBatches(repos, col);
  return { retrieve: c.discovered.length, convert: c.groups.length, evaluate: c.unevaluated.length, release: unreleased.size, stalled: stalled.manifest.length + stalled.upload.length, schedulers: active.length };
}
