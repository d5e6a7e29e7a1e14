import { UpstreamRefusedError } from './errors.js';
import type { UploadBatch, UploadBatchState } from './model.js';
import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';

/*
 * Where an upload batch can stop that the PI is told about: blocked by the
 * account's subject limit, failed, or finished (uploaded, or failed with the
 * items Panoptes refused). Each moves the batch and records its event in
 * one transaction, so a PI is never told of a state the batch is not in.
 */

/**
 * The account cannot take this batch: only Zooniverse can raise
 * subject_limit, so retrying is pointless until someone asks them. The batch
 * is left in state 'blocked' with this message for the PI.
 */
export class BlockedError extends UpstreamRefusedError {
  constructor(
    message: string,
    readonly login: string,
    readonly uploaded: number,
    readonly limit: number,
    readonly needed: number,
  ) {
    super(message, { login, uploaded, limit, needed });
  }
}

export function blockedMessage(login: string, uploaded: number, limit: number, needed: number): string {
  return `Zooniverse user ${login} has uploaded ${uploaded} of ${limit} subjects; this batch needs ${needed} more: ask Zooniverse to raise the limit`;
}

/** States from which the job layer's giving up fails a batch; a batch already finished is left alone. */
const FAILABLE: UploadBatchState[] = ['manifested', 'waiting', 'uploading', 'verifying'];

/**
 * Moves the batch to 'blocked' (a 'batch_blocked' event the first time) and
 * throws BlockedError. `login` is the bridge account's, when known.
 */
export async function blockBatch(d: { repos: Repositories; log: Logger }, batch: UploadBatch, n: { login?: string; uploaded: number; limit: number; needed: number }): Promise<never> {
  const login = n.login ?? 'the bridge account';
  const message = blockedMessage(login, n.uploaded, n.limit, n.needed);
  await d.repos.transaction(async (tx) => {
    const prev = await tx.ledger.lock(batch.id);
    await tx.ledger.setState(batch.id, 'blocked', message);
    if (prev.state !== 'blocked') await tx.events.record(batch.collection_id, 'batch_blocked', { uploadBatchId: batch.id, seq: batch.seq, login, uploaded: n.uploaded, limit: n.limit, needed: n.needed, message });
  });
  d.log.warn({ uploadBatchId: batch.id, login, uploaded: n.uploaded, limit: n.limit, needed: n.needed }, 'upload blocked by the Zooniverse subject limit');
  throw new BlockedError(message, login, n.uploaded, n.limit, n.needed);
}

/**
 * For the job layer, when it gives up retrying a batch, and for refusals:
 * records the reason for the PI with a 'batch_failed' event. Idempotent; a
 * batch already finished is left alone (false).
 */
export async function failBatch(repos: Repositories, uploadBatchId: string, message: string): Promise<boolean> {
  return repos.transaction(async (tx) => {
    const b = await tx.ledger.moveState(uploadBatchId, FAILABLE, 'failed', message);
    if (!b) return false;
    await tx.events.record(b.collection_id, 'batch_failed', { uploadBatchId, seq: b.seq, error: message });
    return true;
  });
}

export interface BatchOutcome {
  subjectSetId: string;
  total: number;
  linked: number;
  failed: number;
  duplicates: number;
}

/**
 * The end of a run that got through verifying: 'uploaded', or 'failed' with
 * the commonest reasons its refused items give (each with an example). The
 * images whose subject is in the set become 'uploaded' in the same
 * transaction. A batch no longer verifying (someone else finished it) is
 * left alone. Returns the state reached.
 */
export async function finishBatch(repos: Repositories, batch: UploadBatch, o: BatchOutcome): Promise<UploadBatchState> {
  let error: string | null = null;
  if (o.failed) {
    const reasons = await repos.ledger.failureReasons(batch.id, 3);
    error = `${o.failed} of ${o.total} subjects could not be uploaded: ${reasons.map((r) => `${r.count} × ${r.error} (e.g. ${r.example})`).join('; ')}`;
  }
  const to: UploadBatchState = o.failed ? 'failed' : 'uploaded';
  await repos.transaction(async (tx) => {
    if (!(await tx.ledger.moveState(batch.id, ['verifying'], to, error))) return;
    await tx.ledger.markImagesUploaded(batch.id, 'uploader', `upload batch ${batch.seq}, subject set ${o.subjectSetId}`);
    const payload = { uploadBatchId: batch.id, seq: batch.seq, subjectSetId: o.subjectSetId, total: o.total, linked: o.linked, failed: o.failed, duplicates: o.duplicates, ...(error ? { error } : {}) };
    await tx.events.record(batch.collection_id, o.failed ? 'batch_failed' : 'batch_uploaded', payload);
  });
  return to;
}
