import { ConflictError } from './errors.js';
import { LockBusyError, type Lock } from './ports/lock.js';
import type { UploadDeps } from './upload-config.js';
import { runUpload, type UploadReport } from './upload-engine.js';

/*
 * Uploading one batch to Zooniverse, exactly once.
 *
 * The ledger (upload_items, behind the UploadLedgerRepository port) holds
 * one row per subject, written by the manifest step before anything is
 * sent: its external_id (the bridge image id) is the subject's identity at
 * Zooniverse. The engine keeps the ledger ahead of Panoptes:
 *
 *   intent (attempts = 0)   nothing was ever sent for it: create it.
 *   intent (attempts > 0)   a create was (maybe) sent and its answer never
 *                           recorded (ambiguous answer, or a crash): it may
 *                           exist. Look before creating it again.
 *   created                 the subject exists (subject_id): link it.
 *   linked                  linked to the set; verified at the end.
 *   failed                  refused for good (bad record, subject deleted).
 *
 * `attempts` is raised before each create request is sent (write-ahead), so
 * whatever point a crash hits, the database alone says which subjects must be
 * looked for and which can simply be created. There is no tracker file.
 *
 * Looking costs a listing: Panoptes cannot filter on external_id. Subjects
 * are therefore created already linked to the batch's set (links.subject_sets
 * on the create, one transaction at Panoptes), so a create that committed
 * without an answer shows up in the set's listing, which is the size of the
 * batch (or the collection), not of the whole project. Ambiguous creates are
 * collected for a whole pass and matched together against one set listing
 * per round, never one listing per failure. The chunked link afterwards (100
 * per request, like the official client) is a cheap confirmation that every
 * recorded subject is a member; re-linking a member is harmless.
 *
 * Batch states: manifested -> uploading -> verifying -> uploaded, or blocked
 * (the account's subject_limit would be passed: only Zooniverse can fix it)
 * or failed (refused for good). Every step is resumable: re-running
 * uploadBatch on a batch in any of those states finishes it.
 *
 * The files: upload-engine.ts runs the phases in order; upload-create.ts
 * (api mode), upload-import.ts (import mode), upload-linking.ts and
 * upload-verify.ts are the phases; upload-outcomes.ts the ends a PI is told
 * about; upload-progress.ts the counts; retraction.ts takes a batch back off.
 */

/** Another run holds the batch (in this process or another worker): it is in hand, not stuck. */
export class BatchBusyError extends ConflictError {}

/**
 * Uploads the batch (mode 'api' or 'import') and verifies the set. Safe to
 * call again at any time, after a crash at any point: it resumes from the
 * ledger. Throws BlockedError (an UpstreamRefusedError) when the account's
 * subject limit is in the way, other UpstreamRefusedErrors when Panoptes
 * refuses for good (the batch is then 'failed'), and UpstreamError when a
 * later attempt may succeed (the batch stays 'uploading' with the reason in
 * `error`). Item-level refusals (a record Panoptes will not take) do not
 * throw: the batch ends 'failed' with those items listed in its error.
 * BatchBusyError when another run has the batch.
 */
export async function uploadBatch(d: UploadDeps, uploadBatchId: string): Promise<UploadReport> {
  return withBatchLock(d.lock, uploadBatchId, () => runUpload(d, uploadBatchId));
}

/**
 * One run per batch at a time (uploading or retracting it): two runners
 * would each create what the other has in flight. Throws BatchBusyError,
 * without running `fn`, when the batch is held.
 */
export async function withBatchLock<T>(lock: Lock, uploadBatchId: string, fn: () => Promise<T>): Promise<T> {
  const key = `upload_batch:${uploadBatchId}`;
  try {
    return await lock.withLock(key, fn);
  } catch (e) {
    if (!(e instanceof LockBusyError) || e.key !== key) throw e;
    throw new BatchBusyError(e.elsewhere ? `upload batch ${uploadBatchId} is being processed by another worker` : `upload batch ${uploadBatchId} is already being processed`);
  }
}
