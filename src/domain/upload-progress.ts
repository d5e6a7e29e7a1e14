import type { UploadBatch, UploadBatchState } from './model.js';
import type { Repositories } from './ports/repositories.js';

/** Where one upload batch stands, counted from its ledger. */
export interface UploadProgress {
  uploadBatchId: string;
  collectionId: string;
  seq: number;
  mode: UploadBatch['mode'];
  state: UploadBatchState;
  total: number;
  /** Ledger rows whose subject is not known to exist yet. */
  pending: number;
  /** Subjects that exist at Zooniverse: created, linked or not yet. */
  created: number;
  linked: number;
  failed: number;
  retracted: number;
  subjectSetId: string | null;
  importId: string | null;
  error: string | null;
}

/** Counts per ledger state, for the API, the PI's page and `bridge status`. */
export async function uploadProgress(repos: Repositories, uploadBatchId: string): Promise<UploadProgress> {
  const b = await repos.ledger.get(uploadBatchId);
  return (await progressOf(repos, [b]))[0];
}

/** The progress of several batches with one count over their ledgers, in the order given. */
export async function progressOf(repos: Repositories, batches: UploadBatch[]): Promise<UploadProgress[]> {
  if (!batches.length) return [];
  const counts = await repos.ledger.countsOf(batches.map((b) => b.id));
  return batches.map((b) => {
    const own = counts.get(b.id) ?? {};
    const n = (s: keyof typeof own) => own[s] ?? 0;
    const total = Object.values(own).reduce((a, x) => a + x, 0);
    return {
      uploadBatchId: b.id,
      collectionId: b.collection_id,
      seq: b.seq,
      mode: b.mode,
      state: b.state,
      total: Math.max(total, b.total),
      pending: n('intent'),
      created: n('created') + n('linked'),
      linked: n('linked'),
      failed: n('failed'),
      retracted: n('retracted'),
      subjectSetId: b.subject_set_id,
      importId: b.import_id,
      error: b.error,
    };
  });
}
