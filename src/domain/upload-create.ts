import { UpstreamError, ValidationError } from './errors.js';
import { AmbiguousRequestError, PanoptesRefused, SubjectLimitError, type PanoptesUser, type SubjectLocation } from './ports/panoptes-client.js';
import type { ObjectStore } from './ports/object-store.js';
import type { CreatedSubject, LedgerItem } from './ports/upload-ledger-repository.js';
import { LedgerRecorder, SubjectLinker } from './upload-linking.js';
import { blockBatch } from './upload-outcomes.js';
import { matchExternalIds, type SubjectScope } from './upload-reconcile.js';
import { isTokenRefusal } from './upload-retry.js';
import { pool, sentScope, type UploadRun } from './upload-run.js';

/*
 * Api mode: subjects created one by one, exactly once.
 *
 * `attempts` is raised before each create request leaves (write-ahead), so
 * a row that is intent with attempts > 0 may exist at Zooniverse: its
 * create was sent and its answer never recorded (ambiguous answer, or a
 * crash). Such suspects are looked for before being sent again. Looking
 * costs a listing (Panoptes cannot filter on external_id), so creates name
 * the batch's set (a create that committed without an answer shows up in
 * the set's listing, the size of the batch, not of the project), and the
 * suspects of a whole round are matched against one listing together.
 */

/** Looks for what ambiguous creates may have made, and adopts what it finds into the ledger. */
export class Reconciler {
  private lastAmbiguousAt = 0;

  constructor(private readonly run: UploadRun) {}

  /** A create just had no answer: the next listing waits for it to settle. */
  noteAmbiguous(): void {
    this.lastAmbiguousAt = Date.now();
  }

  /**
   * One listing of `scope` for all the suspects: found ones are recorded
   * created with the subject found; returns their item ids.
   */
  async adopt(suspects: LedgerItem[], scope: SubjectScope): Promise<Set<string>> {
    const { t, stats, log } = this.run;
    const wait = this.lastAmbiguousAt + t.settleMs - Date.now();
    if (wait > 0) await t.sleep(wait);
    const m = await matchExternalIds(this.run.panoptes, scope, suspects.map((s) => s.external_id));
    stats.listings++;
    stats.scanned += m.scanned;
    for (const dup of m.duplicates) this.run.duplicates.set(dup.externalId, dup.subjectIds);
    const adopted: CreatedSubject[] = [];
    for (const s of suspects) {
      const found = m.found.get(s.external_id);
      if (found) adopted.push({ itemId: s.id, subjectId: found.id });
    }
    await this.run.repos.ledger.recordCreated(adopted);
    stats.adopted += adopted.length;
    log.info({ uploadBatchId: this.run.batch.id, suspects: suspects.length, adopted: adopted.length, scanned: m.scanned, duplicates: m.duplicates.length }, 'reconciled ambiguous creates');
    return new Set(adopted.map((a) => a.itemId));
  }
}

interface ManifestEntry {
  locations: SubjectLocation[];
  metadata: Record<string, unknown>;
}

/** Creates every intent row's subject in the run's set, in rounds of create-then-reconcile, and links them. */
export class ApiCreation {
  private manifest?: Map<string, ManifestEntry>;
  /** Items whose last create certainly did nothing (refused before it ran): no need to look for them. */
  private readonly uncommitted = new Set<string>();
  /** Non-committing failures in a row, per item. */
  private readonly transient = new Map<string, number>();

  constructor(
    private readonly run: UploadRun,
    private readonly reconciler: Reconciler,
    private readonly linker: SubjectLinker,
    private readonly store: ObjectStore,
    /** The bridge account as checkLimit saw it (the defaults of a subject-limit refusal). */
    private readonly me: PanoptesUser | undefined,
    private readonly concurrency: number,
  ) {}

  async createAndLink(): Promise<void> {
    await this.createAll(new LedgerRecorder(this.run.repos.ledger, this.linker, this.run.t));
    await this.linker.linkAllCreated();
  }

  private async createAll(recorder: LedgerRecorder): Promise<void> {
    const { batch, t, stats, repos } = this.run;
    try {
      for (let round = 1; ; round++) {
        const intent = await repos.ledger.items(batch.id, ['intent']);
        if (!intent.length) break;
        if (round > t.maxRounds) {
          throw new UpstreamError(`${intent.length} subjects of upload batch ${batch.seq} are still unresolved after ${t.maxRounds} rounds of creating and reconciling; the next attempt resumes from the ledger`);
        }
        stats.rounds++;
        const suspects = intent.filter((i) => i.attempts > 0 && !this.uncommitted.has(i.id));
        const todo = intent.filter((i) => i.attempts === 0 || this.uncommitted.has(i.id));
        this.uncommitted.clear();
        if (suspects.length) {
          const adopted = await this.reconciler.adopt(suspects, sentScope(this.run));
          for (const s of suspects) if (!adopted.has(s.id)) todo.push(s);
        }
        if (todo.length) await this.createPass(todo, recorder);
      }
    } catch (e) {
      // Whatever was created is still written down (and linked) before the error goes up.
      await recorder.close().catch(() => undefined);
      throw e;
    }
    await recorder.close();
  }

  private async createPass(todo: LedgerItem[], recorder: LedgerRecorder): Promise<void> {
    const { t, stats, repos, panoptes } = this.run;
    const manifest = await this.loadManifest();
    let stop: unknown;
    let authRefusals = 0;
    // Creates in a row that failed (ambiguous or refused before running) with no success between:
    // past a few pool-fulls, Panoptes is down or switched off, and the job layer should wait.
    let streak = 0;
    const streakLimit = Math.max(20, 4 * this.concurrency);
    const failing = (e: Error) => {
      if (++streak >= streakLimit) stop ??= new UpstreamError(`Panoptes is failing: the last ${streak} subject creates all failed (${e.message}); stopped, the next attempt resumes from the ledger`, (e as UpstreamError).retryAfterMs);
    };
    const stopped = () => stop !== undefined || recorder.error !== undefined;
    await pool(todo, this.concurrency, stopped, async (item) => {
      try {
        const entry = manifest.get(item.external_id);
        if (!entry) {
          await repos.ledger.recordFailed([item.id], `image ${item.external_id} has no entry in the batch's manifest`);
          return;
        }
        if (!(await repos.ledger.claim(item.id))) return;
        stats.createRequests++;
        try {
          const s = await panoptes.createSubject({ projectId: this.run.projectId, subjectSetIds: [this.run.setId], locations: entry.locations, metadata: entry.metadata, externalId: item.external_id });
          recorder.created({ itemId: item.id, subjectId: s.id });
          authRefusals = 0;
          streak = 0;
        } catch (e) {
          if (e instanceof AmbiguousRequestError) {
            // Left as intent with attempts > 0: the next round looks for it before anything else.
            stats.ambiguous++;
            this.reconciler.noteAmbiguous();
            failing(e);
            return;
          }
          if (e instanceof SubjectLimitError) {
            stop ??= e;
            return;
          }
          if (isTokenRefusal(e)) {
            // A token refused right after it was issued: refused before anything ran. Once is a token
            // that died twice in a row; every create in flight refused with no success between is the
            // credentials themselves.
            this.uncommitted.add(item.id);
            if (++authRefusals > 2 * this.concurrency) stop ??= e;
            return;
          }
          const refusal = itemRefusal(e);
          if (refusal) {
            await repos.ledger.recordFailed([item.id], refusal);
            return;
          }
          if (e instanceof UpstreamError) {
            // Not ambiguous: refused before it ran (429/503 past the client's retries, no connection).
            this.uncommitted.add(item.id);
            const n = (this.transient.get(item.id) ?? 0) + 1;
            this.transient.set(item.id, n);
            if (n >= t.maxTransientPerItem) stop ??= e;
            failing(e);
            return;
          }
          stop ??= e;
        }
      } catch (e) {
        stop ??= e;
      }
    });
    await recorder.flush();
    if (stop instanceof SubjectLimitError) {
      const left = await repos.ledger.count(this.run.batch.id, ['intent']);
      const uploaded = stop.uploaded ?? this.me?.uploadedSubjectsCount ?? 0;
      const limit = stop.limit ?? this.me?.subjectLimit ?? 0;
      await blockBatch(this.run, this.run.batch, { login: this.me?.login, uploaded, limit, needed: left });
    }
    if (stop !== undefined) throw stop;
  }

  /** The batch's JSON manifest by external id, read once per run. */
  private async loadManifest(): Promise<Map<string, ManifestEntry>> {
    if (this.manifest) return this.manifest;
    const key = this.run.batch.manifest_json_key;
    if (!key) throw new ValidationError(`upload batch ${this.run.batch.seq} has no JSON manifest`);
    const { body } = await this.store.get('public', key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new ValidationError(`the manifest ${key} is not JSON`);
    }
    if (!Array.isArray(parsed)) throw new ValidationError(`the manifest ${key} is not a list of subjects`);
    const out = new Map<string, ManifestEntry>();
    for (const row of parsed as unknown[]) {
      const r = row as { external_id?: unknown; locations?: unknown; metadata?: unknown };
      if (typeof r?.external_id !== 'string' || !Array.isArray(r.locations)) throw new ValidationError(`the manifest ${key} has a row without external_id or locations`);
      out.set(r.external_id, { locations: r.locations as SubjectLocation[], metadata: (r.metadata ?? {}) as Record<string, unknown> });
    }
    this.manifest = out;
    return out;
  }
}

/** A refusal of this one record (bad location or metadata), as opposed to a refusal of the whole run. */
function itemRefusal(e: unknown): string | undefined {
  if (e instanceof ValidationError) return e.message;
  if (e instanceof PanoptesRefused && (e.reason === 'invalid' || e.reason === 'unprocessable')) return e.message;
  return undefined;
}
