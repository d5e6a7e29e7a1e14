import { ConflictError, NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from './errors.js';
import type { Collection, UploadBatch, UploadBatchState } from './model.js';
import type { PanoptesUser } from './ports/panoptes-client.js';
import { systemClock } from './ports/clock.js';
import { tuningOf, type UploadDeps } from './upload-config.js';
import { ApiCreation, Reconciler } from './upload-create.js';
import { ImportUpload } from './upload-import.js';
import { SubjectLinker } from './upload-linking.js';
import { BlockedError, blockBatch, failBatch, finishBatch } from './upload-outcomes.js';
import { uploadProgress, type UploadProgress } from './upload-progress.js';
import { findOrCreateSubjectSet } from './upload-reconcile.js';
import { withTokenRetry } from './upload-retry.js';
import { newStats, sentScope, type RunStats, type UploadRun } from './upload-run.js';
import { verifyMembership } from './upload-verify.js';

/*
 * One run of the exactly-once engine over a batch: check the account can
 * take it, make sure of its subject set, create (api mode) or import its
 * subjects, verify the set holds them, and finish. The phases live in
 * upload-create.ts, upload-import.ts, upload-linking.ts and upload-verify.ts;
 * this file orders them and decides what a failure does to the batch.
 * Callers go through uploadBatch (upload.ts), which keeps one run per batch.
 */

export interface UploadReport extends UploadProgress {
  /** External ids of this batch held by more than one subject at Zooniverse (should be empty). */
  duplicates: { externalId: string; subjectIds: string[] }[];
  /** What this run did. */
  run: RunStats;
}

/** Runs the engine over the batch, resuming from whatever state the ledger is in. See uploadBatch. */
export async function runUpload(d: UploadDeps, uploadBatchId: string): Promise<UploadReport> {
  const started = Date.now();
  const batch = await d.repos.ledger.get(uploadBatchId);
  if (batch.mode === 'export') throw new ValidationError(`upload batch ${batch.seq} is an offline export: there is nothing to upload`);
  if (batch.state === 'uploaded') return report(d, batch.id, new Map(), newStats(), started);
  if (batch.state === 'publishing') throw new ConflictError(`upload batch ${batch.seq} is still being published: it has no manifest yet`);
  if (batch.state === 'retracted') throw new ConflictError(`upload batch ${batch.seq} was retracted`);
  const collection = await d.repos.collections.get(batch.collection_id);
  if (!collection.zooniverse_project_id) throw new ValidationError(`collection ${collection.name} has no Zooniverse project`);
  return new BatchUpload(d, batch, collection, collection.zooniverse_project_id, started).run();
}

class BatchUpload {
  private readonly r: UploadRun;
  private readonly reconciler: Reconciler;
  private me?: PanoptesUser;

  constructor(
    private readonly d: UploadDeps,
    batch: UploadBatch,
    private readonly collection: Collection,
    projectId: string,
    private readonly started: number,
  ) {
    this.r = {
      batch,
      projectId,
      // Known once ensureSubjectSet has run, before any phase that uses it.
      setId: '',
      repos: d.repos,
      panoptes: withTokenRetry(d.panoptes),
      log: d.log,
      t: tuningOf(d),
      stats: newStats(),
      duplicates: new Map(),
    };
    this.reconciler = new Reconciler(this.r);
  }

  async run(): Promise<UploadReport> {
    const { batch, repos } = this.r;
    try {
      if (batch.state === 'failed') {
        // Asked again after a failure: give the refused items another chance.
        // (attempts stays: those with a send on record are looked for before being sent again.)
        await repos.ledger.reopenFailed(batch.id);
      }
      await this.checkLimit();
      await this.setState('uploading');
      this.r.setId = await this.ensureSubjectSet();
      // Rows an import could not make go the API path, never a second whole import.
      let leftByImport = 0;
      if (batch.mode === 'import') {
        const importing = new ImportUpload(this.r, this.d.store, this.d.clock ?? systemClock);
        try {
          leftByImport = await importing.importAll();
        } catch (e) {
          if (!(await importing.notAllowed(e))) throw e;
        }
      }
      const linker = new SubjectLinker(this.r);
      if (batch.mode === 'api' || leftByImport > 0) await new ApiCreation(this.r, this.reconciler, linker, this.d.store, this.me, Math.max(1, this.d.concurrency ?? 8)).createAndLink();
      await this.setState('verifying');
      await verifyMembership(this.r, linker);
      await this.finish();
    } catch (e) {
      await this.recordFailure(e);
      throw e;
    }
    return report(this.d, batch.id, this.r.duplicates, this.r.stats, this.started);
  }

  /** Stops before anything is created when the account cannot take the batch. */
  private async checkLimit(): Promise<void> {
    const { batch, repos } = this.r;
    const me = (this.me = await this.r.panoptes.me());
    const fits = (needed: number) => needed === 0 || me.uploadedSubjectsCount + needed <= me.subjectLimit;
    let needed = await repos.ledger.count(batch.id, ['intent']);
    if (fits(needed)) return;
    // Some of them may exist already (sent before a crash): they are counted at Zooniverse.
    const suspects = (await repos.ledger.items(batch.id, ['intent'])).filter((i) => i.attempts > 0);
    if (suspects.length) {
      await this.reconciler.adopt(suspects, sentScope(this.r));
      needed = await repos.ledger.count(batch.id, ['intent']);
      if (fits(needed)) return;
    }
    await blockBatch(this.d, batch, { login: me.login, uploaded: me.uploadedSubjectsCount, limit: me.subjectLimit, needed });
  }

  private async setState(to: UploadBatchState): Promise<void> {
    await this.r.repos.ledger.setState(this.r.batch.id, to, null);
    this.r.batch.state = to;
  }

  private async ensureSubjectSet(): Promise<string> {
    const { batch, repos, t } = this.r;
    if (batch.subject_set_id) return batch.subject_set_id;
    const perCollection = this.collection.subject_set_per === 'collection';
    if (perCollection) {
      const shared = await repos.ledger.sharedSubjectSet(batch.collection_id);
      if (shared) return this.saveSetId(shared);
    }
    const displayName = subjectSetName(this.collection, batch.seq);
    const marker: Record<string, string> = perCollection ? { '#bridge_collection': batch.collection_id } : { '#bridge_collection': batch.collection_id, '#bridge_upload_batch': batch.id };
    const { set, created } = await findOrCreateSubjectSet(this.r.panoptes, { projectId: this.r.projectId, displayName, marker }, { settle: () => t.sleep(t.settleMs) });
    this.r.log.info({ uploadBatchId: batch.id, subjectSetId: set.id, displayName, created }, created ? 'subject set created' : 'subject set found');
    return this.saveSetId(set.id);
  }

  /** Recorded before any subject is created, so a resumed run uses the same set. */
  private async saveSetId(setId: string): Promise<string> {
    await this.r.repos.ledger.recordSubjectSet(this.r.batch.id, setId);
    this.r.batch.subject_set_id = setId;
    return setId;
  }

  private async finish(): Promise<void> {
    const { batch, setId, log, stats } = this.r;
    const p = await uploadProgress(this.r.repos, batch.id);
    const duplicates = [...this.r.duplicates].map(([externalId, subjectIds]) => ({ externalId, subjectIds }));
    const to = await finishBatch(this.r.repos, batch, { subjectSetId: setId, total: p.total, linked: p.linked, failed: p.failed, duplicates: duplicates.length });
    if (duplicates.length) log.warn({ uploadBatchId: batch.id, duplicates: duplicates.slice(0, 10) }, 'subjects duplicated by external_id in the set');
    log.info({ uploadBatchId: batch.id, state: to, linked: p.linked, failed: p.failed, ...stats }, 'upload batch finished');
  }

  /** After a throw: refusals fail the batch for the PI to see; passing trouble is noted and left to the next attempt. */
  private async recordFailure(e: unknown): Promise<void> {
    if (e instanceof BlockedError) return;
    const id = this.r.batch.id;
    try {
      const message = (e as Error).message;
      if (e instanceof UpstreamError) {
        await this.r.repos.ledger.noteError(id, ['uploading', 'verifying', 'manifested', 'waiting'], `retrying: ${message}`);
      } else if (e instanceof UpstreamRefusedError || e instanceof NotFoundError || e instanceof ValidationError) {
        await failBatch(this.r.repos, id, message);
      }
    } catch (inner) {
      this.r.log.error({ uploadBatchId: id, err: (inner as Error).message }, 'could not record the upload failure');
    }
  }
}

async function report(d: UploadDeps, uploadBatchId: string, duplicates: Map<string, string[]>, stats: RunStats, started: number): Promise<UploadReport> {
  const p = await uploadProgress(d.repos, uploadBatchId);
  stats.ms = Date.now() - started;
  return { ...p, duplicates: [...duplicates].map(([externalId, subjectIds]) => ({ externalId, subjectIds })), run: { ...stats } };
}

/**
 * The set's display name. `subject_set_naming` may use {collection} and
 * {seq}; without {seq}, per-batch sets get " batch <seq>" appended.
 */
export function subjectSetName(c: Pick<Collection, 'name' | 'subject_set_naming' | 'subject_set_per'>, seq: number): string {
  const template = c.subject_set_naming?.trim() || '{collection}';
  const base = template.replace(/\{collection\}/g, c.name);
  if (c.subject_set_per === 'collection') return base.replace(/\s*\{seq\}/g, '').trim() || c.name;
  return base.includes('{seq}') ? base.replace(/\{seq\}/g, String(seq)) : `${base} batch ${seq}`;
}
