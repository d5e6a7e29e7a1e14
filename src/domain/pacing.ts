import type { Collection, UploadBatch } from './model.js';
import type { PanoptesClient, PanoptesSubjectSet } from './ports/panoptes-client.js';
import type { Repositories } from './ports/repositories.js';

/*
 * Paced uploads: one incomplete subject set at a time.
 *
 * A PI may want volunteers to finish one set before the next appears (a
 * drip-feed that keeps a small project's queue short), and the data-rights
 * policy may ask for the same (the `one_incomplete_set` effect, recorded per
 * image). Then a batch that would start a new subject set waits, in state
 * 'waiting', until every earlier batch's set is complete at Zooniverse: in
 * each workflow it is linked to, every subject retired (Panoptes' per-set
 * `completeness`, recomputed by its own worker at most once a minute). A set
 * not yet in any workflow is not being classified, so it is not complete.
 * A set seen complete is recorded (set_completed_at) and never asked about
 * again. The sweep re-offers waiting batches, so the check repeats without
 * anyone holding a job open for days.
 */

export function isSetComplete(set: Pick<PanoptesSubjectSet, 'completeness'>): boolean {
  const shares = Object.values(set.completeness);
  return shares.length > 0 && shares.every((x) => x >= 1);
}

function describe(set: PanoptesSubjectSet): string {
  const shares = Object.entries(set.completeness);
  if (!shares.length) return 'it is not linked to any workflow yet';
  return shares.map(([w, x]) => `${Math.floor(x * 100)}% retired in workflow ${w}`).join(', ');
}

/** Why the batch is paced, or undefined when it is not. */
export async function pacingReason(repos: Repositories, c: Pick<Collection, 'one_incomplete_set'>, batchId: string): Promise<string | undefined> {
  if (c.one_incomplete_set) return 'the collection uploads one incomplete subject set at a time';
  const ruled = await repos.ledger.pacedByPolicy(batchId);
  return ruled ? `the data-rights policy (${ruled.policyRef ?? 'unknown'}) asks for one incomplete subject set at a time` : undefined;
}

/**
 * Whether `batch` may start its subject set now. Returns undefined when it
 * may, else the message the PI sees (the batch is moved to 'waiting' with it,
 * with a `batch_waiting` event the first time).
 */
export async function paceGate(d: { repos: Repositories; panoptes: PanoptesClient }, c: Collection, batch: UploadBatch): Promise<string | undefined> {
  // Only a batch about to start a set can be held; one already under way finishes.
  if (batch.subject_set_id || (batch.state !== 'manifested' && batch.state !== 'waiting')) return undefined;
  // Every batch shares the one set: it is the incomplete set, and it may grow.
  if (c.subject_set_per === 'collection') return undefined;
  const why = await pacingReason(d.repos, c, batch.id);
  if (!why) return undefined;
  for (const e of await d.repos.ledger.openSetsBefore(c.id, batch.seq)) {
    if (!e.subject_set_id) return wait(d.repos, batch, `waiting for batch ${e.seq} (${e.state}) to be uploaded and finished by volunteers first: ${why}`);
    const set = await d.panoptes.getSubjectSet(e.subject_set_id);
    if (!isSetComplete(set)) return wait(d.repos, batch, `waiting for subject set "${set.displayName}" (${set.id}, batch ${e.seq}) to be finished by volunteers: ${describe(set)}; ${why}`);
    await d.repos.ledger.markSetCompleted(e.id);
  }
  return undefined;
}

function wait(repos: Repositories, batch: UploadBatch, message: string): Promise<string> {
  return holdBatch(repos, batch, message, ['manifested', 'waiting']);
}

/**
 * Moves the batch to 'waiting' with the message the PI sees (a
 * `batch_waiting` event the first time), if it is still in one of `from`.
 * The sweep offers waiting batches again, so the wait ends by itself once
 * its cause is gone.
 */
export async function holdBatch(repos: Repositories, batch: UploadBatch, message: string, from: UploadBatch['state'][]): Promise<string> {
  await repos.transaction(async (tx) => {
    const prev = await tx.ledger.lock(batch.id);
    if (!from.includes(prev.state)) return;
    await tx.ledger.setState(batch.id, 'waiting', message);
    if (prev.state !== 'waiting') await tx.events.record(batch.collection_id, 'batch_waiting', { uploadBatchId: batch.id, seq: batch.seq, message });
  });
  return message;
}
