import { NotFoundError, ValidationError } from './errors.js';
import { AmbiguousRequestError, PanoptesNotFound, PanoptesRefused, SubjectLimitError, type PanoptesSubjectSetImport } from './ports/panoptes-client.js';
import type { Clock } from './ports/clock.js';
import type { ObjectStore } from './ports/object-store.js';
import { compareIds, matchExternalIds } from './upload-reconcile.js';
import type { UploadRun } from './upload-run.js';

/*
 * Import mode: Panoptes reads the batch's CSV manifest itself (a subject
 * set import) and creates the subjects in the set, upserting by
 * external_id. The ledger learns what it made from the set's listing. An
 * import is written ahead like a create (every intent row's attempts
 * raised first), and its id recorded once known, so a resumed run finds
 * it again instead of starting another.
 */

/** The first look at a new import's progress, ms; the interval then doubles up to the tuning's importPollMs. */
const FIRST_IMPORT_POLL_MS = 1_000;

/** How watching an import ended: completed, or stalled (no change for importStallPolls x importPollMs). */
interface PollOutcome {
  imp: PanoptesSubjectSetImport;
  stalled: boolean;
}

export class ImportUpload {
  constructor(
    private readonly run: UploadRun,
    private readonly store: ObjectStore,
    private readonly clock: Clock,
  ) {}

  /**
   * Imports the batch's manifest until every row is in the set. An import
   * that stalled is imported again (at most maxReimports; rows upsert by
   * external_id). An import that finished with rows failed is not: the
   * failed rows are named on the record and returned, for the API path to
   * create one by one. Returns how many rows are left for it.
   */
  async importAll(): Promise<number> {
    const { batch, repos, t, log } = this.run;
    if (!batch.manifest_csv_key) throw new ValidationError(`upload batch ${batch.seq} has no manifest CSV to import`);
    const sourceUrl = this.store.publicUrl(batch.manifest_csv_key);
    let imp: PanoptesSubjectSetImport | undefined;
    if (batch.import_id) {
      imp = await this.run.panoptes.getSubjectSetImport(batch.import_id).catch((e: unknown) => {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      });
    } else if ((await repos.ledger.items(batch.id, ['intent'])).some((i) => i.attempts > 0)) {
      // An import may have been requested before a crash lost its id.
      imp = await this.latestImport(sourceUrl);
      if (imp) await this.saveImportId(imp.id);
    }
    if (imp) await this.matchFromSet();
    for (let n = 0; ; n++) {
      if (!(await repos.ledger.count(batch.id, ['intent']))) return 0;
      if (!imp || n > 0) imp = await this.startImport(sourceUrl);
      const outcome = await this.poll(imp);
      await this.matchFromSet();
      const left = await repos.ledger.items(batch.id, ['intent']);
      if (!left.length) return 0;
      if (!outcome.stalled) {
        // Panoptes does not say which rows failed or why: the ledger does (the ones not in the set).
        const ids = left.map((i) => i.external_id);
        const reason = `Zooniverse import ${outcome.imp.id} finished with ${outcome.imp.failedCount} of ${outcome.imp.manifestCount ?? '?'} rows failed; ${left.length} subject(s) not in set ${this.run.setId} are created one by one instead`;
        await repos.audit.append([{ actor: 'uploader', action: 'import_rows_failed', entity: 'batch', entityId: batch.id, collectionId: batch.collection_id, reason, detail: { importId: outcome.imp.id, failedCount: outcome.imp.failedCount, imageIds: ids.slice(0, 1000), more: Math.max(0, ids.length - 1000) } }]);
        log.warn({ uploadBatchId: batch.id, importId: outcome.imp.id, missing: left.length }, reason);
        return left.length;
      }
      if (n >= t.maxReimports) {
        const why = `Zooniverse import ${outcome.imp.id} stopped at ${outcome.imp.importedCount} of ${outcome.imp.manifestCount ?? 'an uncounted number of'} rows`;
        await repos.ledger.recordFailed(left.map((i) => i.id), `${why}; the subject is not in subject set ${this.run.setId}`);
        return 0;
      }
      log.warn({ uploadBatchId: batch.id, importId: outcome.imp.id, missing: left.length }, 'import stalled with rows missing: importing again (external_id upserts)');
    }
  }

  /**
   * Import is the default "where the project allows": Panoptes refuses an
   * import outright (403) when the manifest is over the row limit it sets
   * for the account, or its policy does not let the account import into the
   * project, while subjects can still be created one by one. A batch so
   * refused before any import of it started goes on in api mode (recorded on
   * the batch, so a resumed run does the same); other failures are not ours
   * to work around.
   */
  async notAllowed(e: unknown): Promise<boolean> {
    const { batch } = this.run;
    // Only before any import started: once one exists, its rows are Panoptes' to finish.
    if (batch.import_id || e instanceof SubjectLimitError) return false;
    const forbidden = e instanceof PanoptesRefused && e.reason === 'forbidden';
    // A Panoptes (or a proxy in front of it) without the import endpoints: 404 or 405.
    const missing = e instanceof PanoptesNotFound || (e instanceof PanoptesRefused && e.detail?.status === 405);
    if (!forbidden && !missing) return false;
    await this.run.repos.transaction(async (tx) => {
      await tx.ledger.switchToApi(batch.id);
      await tx.audit.append([{ actor: 'uploader', action: 'upload_mode_fallback', entity: 'batch', entityId: batch.id, collectionId: batch.collection_id, reason: `import mode is not available: ${(e as Error).message}; uploading subject by subject (api mode)`, detail: { from: 'import', to: 'api', status: (e as { detail?: { status?: number } }).detail?.status ?? null } }]);
    });
    batch.mode = 'api';
    this.run.log.warn({ uploadBatchId: batch.id, err: (e as Error).message }, 'Zooniverse import is not available to this batch; uploading it subject by subject instead');
    return true;
  }

  private async latestImport(sourceUrl: string, after?: string): Promise<PanoptesSubjectSetImport | undefined> {
    const all = (await this.run.panoptes.findSubjectSetImports({ subjectSetId: this.run.setId })).filter((i) => i.sourceUrl === sourceUrl && (after === undefined || compareIds(i.id, after) > 0));
    all.sort((a, b) => compareIds(a.id, b.id));
    return all.at(-1);
  }

  private async startImport(sourceUrl: string): Promise<PanoptesSubjectSetImport> {
    const { batch, t, stats } = this.run;
    // Write-ahead, as for creates: a lost answer is looked for on resume.
    await this.run.repos.ledger.claimAllIntent(batch.id);
    const before = (await this.latestImport(sourceUrl))?.id;
    let imp: PanoptesSubjectSetImport | undefined;
    for (let n = 1; !imp; n++) {
      stats.imports++;
      try {
        imp = await this.run.panoptes.createSubjectSetImport({ subjectSetId: this.run.setId, sourceUrl });
      } catch (e) {
        if (!(e instanceof AmbiguousRequestError) || n >= 3) throw e;
        await t.sleep(t.settleMs);
        imp = await this.latestImport(sourceUrl, before);
      }
    }
    await this.saveImportId(imp.id);
    this.run.log.info({ uploadBatchId: batch.id, importId: imp.id, rows: imp.manifestCount }, 'import started');
    return imp;
  }

  private async saveImportId(importId: string): Promise<void> {
    await this.run.repos.ledger.recordImport(this.run.batch.id, importId);
    this.run.batch.import_id = importId;
  }

  private async poll(imp: PanoptesSubjectSetImport): Promise<PollOutcome> {
    const { t } = this.run;
    let mark = importMark(imp);
    // Time slept since the import last moved: it is stalled after a window of importStallPolls full intervals.
    let quietMs = 0;
    // A small import is done in a second or two: the first look comes after a second, then the interval doubles
    // up to importPollMs (waiting a whole 5 s first was most of a 2,000-subject import's time at the double's speed).
    let interval = Math.min(FIRST_IMPORT_POLL_MS, t.importPollMs);
    const window = t.importPollMs * t.importStallPolls;
    // An import found again after a restart may have died long ago: no need to watch it for another window.
    // (Without updatedAt, only watching it tells.)
    if (imp.state !== 'completed' && imp.updatedAt && this.clock.now().getTime() - Date.parse(imp.updatedAt) > 2 * window) return { imp, stalled: true };
    while (imp.state !== 'completed') {
      await t.sleep(interval);
      quietMs += interval;
      interval = Math.min(2 * interval, t.importPollMs);
      imp = await this.run.panoptes.getSubjectSetImport(imp.id);
      const m = importMark(imp);
      if (m === mark) {
        if (quietMs >= window) return { imp, stalled: true };
      } else {
        quietMs = 0;
        mark = m;
        this.run.log.debug({ uploadBatchId: this.run.batch.id, importId: imp.id, imported: imp.importedCount, of: imp.manifestCount }, 'import progress');
      }
    }
    return { imp, stalled: false };
  }

  /** The set's members matched against the ledger's waiting rows: found ones are recorded and linked. */
  private async matchFromSet(): Promise<void> {
    const { batch, repos, stats } = this.run;
    const intent = await repos.ledger.items(batch.id, ['intent']);
    if (!intent.length) return;
    const m = await matchExternalIds(this.run.panoptes, { subjectSetId: this.run.setId }, intent.map((i) => i.external_id));
    stats.listings++;
    stats.scanned += m.scanned;
    for (const dup of m.duplicates) this.run.duplicates.set(dup.externalId, dup.subjectIds);
    const found = intent.flatMap((i) => {
      const s = m.found.get(i.external_id);
      return s ? [{ itemId: i.id, subjectId: s.id }] : [];
    });
    await repos.ledger.recordCreated(found);
    if (found.length) await repos.ledger.recordLinked(found.map((f) => f.itemId));
  }
}

/** What changes while an import makes progress; unchanged for `importStallPolls` polls = stalled. */
function importMark(i: PanoptesSubjectSetImport): string {
  return `${i.importedCount}/${i.failedCount}/${i.manifestCount}/${i.updatedAt}`;
}
