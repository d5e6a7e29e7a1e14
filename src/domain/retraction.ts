import { UpstreamRefusedError } from './errors.js';
import { PanoptesRefused, type PanoptesClient } from './ports/panoptes-client.js';
import type { Repositories } from './ports/repositories.js';
import { withBatchLock } from './upload.js';
import { tuningOf, type UploadDeps } from './upload-config.js';
import { matchExternalIds, type SubjectScope } from './upload-reconcile.js';
import { withTokenRetry } from './upload-retry.js';
import { pool } from './upload-run.js';

/*
 * Taking subjects back off Zooniverse: unlinked from their set and deleted
 * where Panoptes permits, their ledger rows 'retracted'. A whole batch
 * (retractBatch, under the batch's lock like an upload) or the subjects of
 * one image (retractImageSubjects). The public objects are the publishing
 * module's; takedown.ts puts the two together.
 */

const LIVE_STATES = ['intent', 'created', 'linked', 'failed'] as const;

export interface RetractResult {
  uploadBatchId: string;
  /** Every image of the batch: all are off Zooniverse now (subject unlinked, and deleted where permitted, or never created). */
  imageIds: string[];
  subjectsDeleted: number;
  /** Unlinked but not deleted (Panoptes refused the delete); they stay out of every set of the batch. */
  subjectsKept: number;
}

/** The Panoptes client, or why subjects cannot be removed without one. */
export function requirePanoptes(panoptes: PanoptesClient | undefined): PanoptesClient {
  if (!panoptes) throw new UpstreamRefusedError('subjects are on Zooniverse but no Zooniverse credentials are configured, so they cannot be removed');
  return panoptes;
}

/**
 * Takes the batch off Zooniverse: subjects unlinked from the set and deleted
 * where Panoptes permits, ledger rows 'retracted', batch 'retracted', an
 * audit entry and a 'batch_retracted' event. Creates whose fate was unknown
 * are looked for first, so nothing the bridge made is left behind. The
 * public objects are the publishing module's: it gets the image ids back.
 * Safe to repeat.
 */
export async function retractBatch(d: UploadDeps, uploadBatchId: string, actor: string): Promise<RetractResult> {
  return withBatchLock(d.lock, uploadBatchId, () => retract(d, uploadBatchId, actor));
}

async function retract(d: UploadDeps, uploadBatchId: string, actor: string): Promise<RetractResult> {
  const panoptes = withTokenRetry(d.panoptes);
  const ledger = d.repos.ledger;
  const batch = await ledger.get(uploadBatchId);
  const collection = await d.repos.collections.get(batch.collection_id);
  const projectId = collection.zooniverse_project_id;
  const rows = await ledger.items(uploadBatchId, [...LIVE_STATES]);

  // Creates (or an import) whose answer was never recorded may have made subjects: find them first.
  const extraCopies = new Map<string, string[]>();
  const unknown = rows.filter((r) => !r.subject_id && (r.attempts > 0 || (batch.mode === 'import' && batch.import_id)));
  if (unknown.length && projectId) {
    const scope: SubjectScope = batch.subject_set_id ? { subjectSetId: batch.subject_set_id } : { projectId };
    const m = await matchExternalIds(panoptes, scope, unknown.map((r) => r.external_id));
    for (const r of unknown) {
      const s = m.found.get(r.external_id);
      if (!s) continue;
      r.subject_id = s.id;
      await ledger.recordSubject(r.id, s.id);
    }
    // Extra copies of our subjects (duplicates) go too.
    for (const dup of m.duplicates) {
      const r = unknown.find((u) => u.external_id === dup.externalId);
      if (r) extraCopies.set(r.id, dup.subjectIds.filter((id) => id !== r.subject_id));
    }
  }

  const withSubject = rows.filter((r) => r.subject_id);
  const sids = withSubject.map((r) => r.subject_id!);
  if (batch.subject_set_id && sids.length) await panoptes.unlinkSubjects(batch.subject_set_id, sids);
  let deleted = 0;
  let kept = 0;
  await pool(withSubject, tuningOf(d).deleteConcurrency, () => false, async (r) => {
    const ids = [r.subject_id!, ...(extraCopies.get(r.id) ?? [])];
    let refused = false;
    for (const sid of ids) {
      try {
        await panoptes.deleteSubject(sid);
      } catch (e) {
        // Forbidden, or unprocessable (a subject Panoptes will not let go): it stays, unlinked.
        if (!(e instanceof PanoptesRefused) || (e.reason !== 'forbidden' && e.reason !== 'unprocessable')) throw e;
        refused = true;
        d.log.warn({ uploadBatchId, subjectId: sid, err: e.message }, 'Zooniverse refused to delete a subject; it stays unlinked');
      }
    }
    if (refused) kept++;
    else deleted++;
    await ledger.recordRetracted([r.id]);
  });

  // Every image of the batch, those retracted by an earlier call included: the caller's clean-up can repeat too.
  const imageIds = await ledger.imageIds(uploadBatchId);
  await d.repos.transaction(async (tx) => {
    await tx.ledger.retractAll(uploadBatchId);
    const prev = await tx.ledger.lock(uploadBatchId);
    await tx.ledger.setState(uploadBatchId, 'retracted');
    if (prev.state !== 'retracted') {
      const detail = { seq: batch.seq, subjectSetId: batch.subject_set_id, images: imageIds.length, subjectsDeleted: deleted, subjectsKept: kept };
      await tx.events.record(batch.collection_id, 'batch_retracted', { uploadBatchId, ...detail });
      await tx.audit.append([{ actor, action: 'batch_retracted', entity: 'batch', entityId: uploadBatchId, collectionId: batch.collection_id, detail }]);
    }
  });
  d.log.info({ uploadBatchId, images: imageIds.length, deleted, kept }, 'upload batch retracted');
  return { uploadBatchId, imageIds, subjectsDeleted: deleted, subjectsKept: kept };
}

/**
 * Removes the subjects made for one image, wherever they are: unlinked from
 * the set they were linked to, deleted, their rows 'retracted'. Needs
 * Panoptes only when there is a subject to remove.
 */
export async function retractImageSubjects(d: { repos: Repositories; panoptes?: PanoptesClient }, imageId: string): Promise<void> {
  for (const it of await d.repos.ledger.subjectsOfImage(imageId)) {
    if (it.subjectId) {
      const panoptes = requirePanoptes(d.panoptes);
      if (it.state === 'linked' && it.subjectSetId) await panoptes.unlinkSubjects(it.subjectSetId, [it.subjectId]);
      await panoptes.deleteSubject(it.subjectId);
    }
    await d.repos.ledger.recordRetracted([it.itemId]);
  }
}
