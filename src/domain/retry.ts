import type { Artifact, Collection, UploadBatch } from './model.js';
import type { Caller } from './caller.js';
import type { Clock } from './ports/clock.js';
import type { JobQueue } from './ports/job-queue.js';
import type { Repositories } from './ports/repositories.js';
import { assertMayChange } from './collections.js';
import { ConflictError, NotFoundError } from './errors.js';

/**
 * A person takes work that stopped back up: an upload batch that failed,
 * is blocked or waits, a retrieval or conversion that failed. The state goes
 * back to where the pipeline picks it up, the retry is audited in the same
 * transaction, and the job is queued under a fresh id (so an old failed job
 * of the same work does not swallow it). Exactly-once holds as for any
 * resumed run: the upload ledger says what Zooniverse already has.
 */
export interface RetryDeps {
  repos: Repositories;
  queues: Pick<JobQueue, 'add'>;
  clock: Clock;
}

/** Batch states a person may retry; the others are under way or finished. */
const RETRYABLE: UploadBatch['state'][] = ['failed', 'blocked', 'waiting'];

export interface BatchRetry {
  uploadBatchId: string;
  seq: number;
  /** The state it left. */
  from: UploadBatch['state'];
  /** The mode it will upload in (the collection's, if nothing was sent yet). */
  mode: UploadBatch['mode'];
}

/** Retries one upload batch of the collection; owners and admins only. */
export async function retryUploadBatch(d: RetryDeps, who: Caller, c: Collection, uploadBatchId: string): Promise<BatchRetry> {
  assertMayChange(who, c);
  const r = await d.repos.transaction(async (tx) => {
    const b = await tx.ledger.lock(uploadBatchId).catch(() => undefined);
    if (!b || b.collection_id !== c.id) throw new NotFoundError(`upload batch ${uploadBatchId} not found in collection ${c.name}`);
    if (b.mode === 'export') throw new ConflictError(`upload batch ${b.seq} is an offline export: there is nothing to upload`);
    if (!RETRYABLE.includes(b.state)) throw new ConflictError(`upload batch ${b.seq} is ${b.state}: only failed, blocked or waiting batches can be retried`);
    // A mode change applies to a batch that has sent nothing yet (no import, no subject).
    const untouched = !b.import_id && (await tx.ledger.count(b.id, ['created', 'linked'])) === 0;
    const mode = untouched && b.mode !== c.upload_mode ? c.upload_mode : b.mode;
    if (mode !== b.mode) await tx.ledger.setMode(b.id, mode);
    await tx.ledger.reopenFailed(b.id);
    await tx.ledger.setState(b.id, 'manifested', null);
    await tx.audit.append([{ actor: who.username, action: 'retry_upload_batch', entity: 'batch', entityId: b.id, collectionId: c.id, reason: null, detail: { seq: b.seq, from: b.state, error: b.error, mode } }]);
    return { uploadBatchId: b.id, seq: b.seq, from: b.state, mode };
  });
  await d.queues.add('upload', { collectionId: c.id, round: `retry-${d.clock.now().getTime()}` });
  return r;
}

/** Retries every failed, blocked or waiting batch of the collection. */
export async function retryUploadBatches(d: RetryDeps, who: Caller, c: Collection): Promise<BatchRetry[]> {
  assertMayChange(who, c);
  const out: BatchRetry[] = [];
  for (const b of await d.repos.ledger.inStates(c.id, RETRYABLE)) out.push(await retryUploadBatch(d, who, c, b.id));
  return out;
}

export interface ArtifactRetry {
  artifactId: string;
  datasetId: string;
}

/**
 * Retries failed artifacts of the collection (one, or all): each goes back
 * to `discovered` and is retrieved again, after which its group converts as
 * usual. The error it had stays in the audit entry.
 */
export async function retryArtifacts(d: RetryDeps, who: Caller, c: Collection, artifactId?: string): Promise<ArtifactRetry[]> {
  assertMayChange(who, c);
  const failed: Artifact[] = artifactId ? [await d.repos.artifacts.get(artifactId)] : await d.repos.artifacts.failedOf(c.id);
  const out: ArtifactRetry[] = [];
  for (const a of failed) {
    if (a.collection_id !== c.id) throw new NotFoundError(`artifact ${a.id} not found in collection ${c.name}`);
    if (a.state !== 'failed') {
      if (artifactId) throw new ConflictError(`artifact ${a.id} (dataset ${a.dataset_id}) is ${a.state}, not failed`);
      continue;
    }
    const moved = await d.repos.transaction(async (tx) => {
      if (!(await tx.artifacts.transition(a.id, 'failed', 'discovered', who.username, { error: null }, 'retried'))) return false;
      // Its batch has work again: it is announced again when that is done.
      if (a.batch_id) await tx.batches.unsettle(a.batch_id);
      await tx.audit.append([{ actor: who.username, action: 'retry_artifact', entity: 'collection', entityId: c.id, collectionId: c.id, reason: null, detail: { artifactId: a.id, datasetId: a.dataset_id, error: a.error } }]);
      return true;
    });
    if (!moved) continue;
    await d.queues.add('retrieve', { artifactId: a.id });
    out.push({ artifactId: a.id, datasetId: a.dataset_id });
  }
  return out;
}

/** What stopped in a collection, with what a person needs to decide on a retry. */
export interface Failures {
  artifacts: Array<Pick<Artifact, 'id' | 'dataset_id' | 'dataset_type' | 'run' | 'data_id' | 'band' | 'path' | 'error' | 'attempts' | 'updated_at'>>;
  batches: Array<Pick<UploadBatch, 'id' | 'seq' | 'state' | 'mode' | 'error' | 'updated_at'>>;
  /** Stamps that failed to convert while the rest of their file did (retried with their datasets). */
  stamps: Array<{ image_id: string; group_key: string; stamp_index: number; dataset_ids: string[]; error: string | null; at: Date }>;
  /** More failed stamps than listed. */
  more_stamps: boolean;
}

/** Failed stamps listed at most; the collection's counts give the total. */
const STAMPS_LISTED = 200;

/** The collection's failed artifacts and its failed, blocked or waiting upload batches; whoever may see the collection. */
export async function failuresOf(repos: Repositories, c: Collection): Promise<Failures> {
  const artifacts = (await repos.artifacts.failedOf(c.id)).map((a) => ({ id: a.id, dataset_id: a.dataset_id, dataset_type: a.dataset_type, run: a.run, data_id: a.data_id, band: a.band, path: a.path, error: a.error, attempts: a.attempts, updated_at: a.updated_at }));
  const batches = (await repos.ledger.inStates(c.id, RETRYABLE)).map((b) => ({ id: b.id, seq: b.seq, state: b.state, mode: b.mode, error: b.error, updated_at: b.updated_at }));
  const page = await repos.images.list(c.id, { state: 'failed', limit: STAMPS_LISTED });
  const datasets = await repos.images.datasetIds(page.items.map((i) => i.id));
  const stamps = page.items.map((i) => ({ image_id: i.id, group_key: i.group_key, stamp_index: i.stamp_index, dataset_ids: datasets.get(i.id) ?? [], error: i.error, at: i.updated_at }));
  return { artifacts, batches, stamps, more_stamps: page.next !== null };
}
