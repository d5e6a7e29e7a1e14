import type { PanoptesClient } from './ports/panoptes-client.js';
import type { Lock } from './ports/lock.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import type { Repositories } from './ports/repositories.js';
import { BatchBusyError, uploadBatch } from './upload.js';
import { failBatch } from './upload-outcomes.js';
import { progressOf, type UploadProgress } from './upload-progress.js';
import { holdBatch, paceGate } from './pacing.js';
import { projectBindingProblem } from './project-bindings.js';

/**
 * The release of approved images: what the flow's parent job does once the
 * images are published and the manifests written, and what the sweep looks
 * for when a release was lost.
 */
export interface ReleaseDeps {
  repos: Repositories;
  /** The upload lock (one run per batch across workers). */
  lock: Lock;
  store: ObjectStore;
  log: Logger;
  /** Absent without Zooniverse credentials: batches stop at their manifests (the export still works). */
  panoptes?: PanoptesClient;
}

/**
 * Uploads every batch of the collection that is manifested, waiting or
 * part-way, oldest first. With paced uploads (src/domain/pacing.ts) it stops
 * at the first batch that has to wait for volunteers; the batches after it
 * wait behind it, so sets appear in order.
 */
export async function uploadCollection(d: ReleaseDeps, collectionId: string): Promise<{ uploaded: number; skipped?: string; waiting?: string; busy?: boolean }> {
  const c = await d.repos.collections.get(collectionId);
  if (!d.panoptes) return { uploaded: 0, skipped: 'no Zooniverse credentials are configured; the manifests are ready for import or export' };
  if (!c.zooniverse_project_id) return { uploaded: 0, skipped: `collection ${c.name} has no Zooniverse project id` };
  // Export batches are for the offline path; they never go to the API.
  const batches = await d.repos.ledger.uploadableOf(c.id);
  // Checked at every upload, not only when the project is set: an admin may have revoked it since.
  const unbound = await projectBindingProblem(d.repos, c.owner, c.zooniverse_project_id);
  if (unbound) {
    for (const b of batches) await holdBatch(d.repos, b, unbound, ['manifested', 'waiting', 'uploading', 'verifying']);
    if (batches.length) d.log.warn({ collectionId, project: c.zooniverse_project_id }, unbound);
    return { uploaded: 0, waiting: unbound };
  }
  let uploaded = 0;
  for (const b of batches) {
    const waiting = await paceGate({ repos: d.repos, panoptes: d.panoptes }, c, b);
    if (waiting) {
      d.log.info({ collectionId, uploadBatchId: b.id, seq: b.seq }, waiting);
      return { uploaded, waiting };
    }
    try {
      await uploadBatch({ repos: d.repos, lock: d.lock, panoptes: d.panoptes, store: d.store, log: d.log }, b.id);
    } catch (e) {
      // Someone else is uploading it (a sweep offered the collection again): theirs to finish, and the later batches too.
      if (e instanceof BatchBusyError) return { uploaded, busy: true };
      throw e;
    }
    uploaded++;
  }
  return { uploaded };
}

/**
 * Collections whose release stalled: batches left publishing, manifested,
 * waiting or part-way for longer than `olderThan` allows (their job was lost,
 * or they wait on volunteers and need asking again). For the sweep.
 */
export interface StalledRelease {
  collectionId: string;
  /** `<batch id>@<updated_at>` of each stalled batch: the same stall gives the same marks, a later one new ones. */
  marks: string[];
}

export async function stalledReleases(repos: Repositories, olderThan: Date): Promise<{ manifest: StalledRelease[]; upload: StalledRelease[] }> {
  const rows = await repos.ledger.stalled(olderThan, 5000);
  const group = (keep: (state: string) => boolean): StalledRelease[] => {
    const by = new Map<string, string[]>();
    for (const r of rows) if (keep(r.state)) by.set(r.collectionId, [...(by.get(r.collectionId) ?? []), `${r.id}@${r.updatedAt.toISOString()}`]);
    return [...by].map(([collectionId, marks]) => ({ collectionId, marks }));
  };
  // Nothing to upload to without a Zooniverse project: those batches rest at their manifests.
  const uploadable = new Set(rows.filter((r) => r.hasProject).map((r) => r.collectionId));
  return { manifest: group((s) => s === 'publishing'), upload: group((s) => s !== 'publishing').filter((u) => uploadable.has(u.collectionId)) };
}

/** Approved images not yet published, by collection: their release job was lost. */
export async function approvedUnpublished(repos: Repositories, olderThan: Date, limit = 10_000): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of await repos.images.approvedIdleSince(olderThan, limit)) out.set(r.collection_id, [...(out.get(r.collection_id) ?? []), r.id]);
  return out;
}

/**
 * The job layer gives up on a collection's upload: the batch that was in
 * progress ends 'failed' with the reason for the PI (and a batch_failed
 * event), instead of sitting in 'uploading' with nobody working on it.
 * Batches not yet started stay manifested for the next release.
 */
export async function giveUpUploads(d: Pick<ReleaseDeps, 'repos'>, collectionId: string, reason: string): Promise<number> {
  let n = 0;
  for (const id of await d.repos.ledger.underWayOf(collectionId)) if (await failBatch(d.repos, id, reason)) n++;
  return n;
}

export interface ReleaseProgress {
  collectionId: string;
  /** Approved by review, not yet in the public store. */
  approved: number;
  /** Live in the public store (published, or published and uploaded). */
  published: number;
  /** Subjects known to exist at Zooniverse and linked to their set, over every batch. */
  created: number;
  linked: number;
  /** Subjects the batches hold (retracted ones excluded). */
  total: number;
  /** Newest first. */
  batches: UploadProgress[];
  /** Nothing is waiting and no batch is on its way: a watcher can stop. */
  settled: boolean;
}

/** States a batch stays in until someone acts (or it is done). */
const RESTING = new Set(['uploaded', 'blocked', 'failed', 'retracted', 'waiting']);

/**
 * The whole release of one collection, from approval to linked subjects: what
 * the API, `bridge status` and the reviewer/PI page show. Read from the
 * database alone (the truth), so it is the same whichever process asks.
 * A manifested batch counts as settled only when there is nobody to upload it
 * (`uploading` = false: no Zooniverse credentials or project).
 */
export async function releaseProgress(repos: Repositories, collectionId: string, opts: { uploading?: boolean } = {}): Promise<ReleaseProgress> {
  const counts = await repos.images.releaseCounts(collectionId);
  // Read every few seconds by each open page: two queries, whatever the number of batches.
  const batches = await progressOf(repos, await repos.ledger.recentOf(collectionId, 200));
  const live = batches.filter((b) => b.state !== 'retracted');
  const uploading = opts.uploading ?? true;
  const settled = counts.approved === 0 && batches.every((b) => RESTING.has(b.state) || (!uploading && b.state === 'manifested') || b.mode === 'export');
  return {
    collectionId,
    approved: counts.approved,
    published: counts.published,
    created: live.reduce((a, b) => a + b.created, 0),
    linked: live.reduce((a, b) => a + b.linked, 0),
    total: live.reduce((a, b) => a + b.total - b.retracted, 0),
    batches,
    settled,
  };
}
