import { setTimeout as delay } from 'node:timers/promises';

import { sql } from 'kysely';

import type { Db } from '../db/database.js';
import type { Collection, UploadBatch, UploadBatchState, UploadItemState } from '../db/schema.js';
import { appendAudit } from '../db/repositories/audit.js';
import { getCollection } from '../db/repositories/collections.js';
import type { Tx } from '../db/repositories/transitions.js';
import { ConflictError, NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from './errors.js';
import { AmbiguousRequestError, PanoptesRefused, SubjectLimitError, type PanoptesClient, type PanoptesSubjectSetImport, type PanoptesUser, type SubjectLocation } from './panoptes-port.js';
import type { Logger, ObjectStore } from './ports.js';
import { compareIds, findOrCreateSubjectSet, matchExternalIds, type SubjectScope } from './upload-reconcile.js';
import { isTokenRefusal, withTokenRetry } from './upload-retry.js';
import { recordEvent } from './notify.js';

/*
 * Uploading one batch to Zooniverse, exactly once.
 *
 * The ledger (upload_items) holds one row per subject, written by the
 * manifest step before anything is sent: its external_id (the bridge image
 * id) is the subject's identity at Zooniverse. The engine keeps the ledger
 * ahead of Panoptes:
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
 */

export interface UploadDeps {
  db: Db;
  panoptes: PanoptesClient;
  store: ObjectStore;
  log: Logger;
  now?: () => Date;
  /** Subject creates in flight at once (api mode). Default 8. */
  concurrency?: number;
  tuning?: Partial<UploadTuning>;
}

export interface UploadTuning {
  /** Subjects per link request. Default 100 (Panoptes' page size). */
  linkChunk: number;
  /** Created subjects are recorded in the ledger in groups of this many... */
  flushEvery: number;
  /** ...or after this long, whichever comes first. */
  flushAfterMs: number;
  /** Create-and-reconcile rounds before the run gives up (the job layer retries it). */
  maxRounds: number;
  /**
   * Pause after an ambiguous answer before listing: a gateway that gave up
   * (504) may leave the request still running behind it. Default 2 s.
   */
  settleMs: number;
  /** Consecutive non-committing failures of one create before the run gives up. */
  maxTransientPerItem: number;
  importPollMs: number;
  /** Polls without any change before an import is declared stalled. */
  importStallPolls: number;
  /** New imports after one completed or stalled with rows missing. */
  maxReimports: number;
  /** Deletes in flight at once when retracting. */
  deleteConcurrency: number;
  sleep: (ms: number) => Promise<void>;
}

const DEFAULTS: UploadTuning = {
  linkChunk: 100,
  flushEvery: 50,
  flushAfterMs: 500,
  maxRounds: 8,
  settleMs: 2_000,
  maxTransientPerItem: 3,
  importPollMs: 5_000,
  importStallPolls: 60,
  maxReimports: 1,
  deleteConcurrency: 4,
  sleep: (ms) => delay(ms).then(() => undefined),
};

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

export interface UploadReport extends UploadProgress {
  /** External ids of this batch held by more than one subject at Zooniverse (should be empty). */
  duplicates: { externalId: string; subjectIds: string[] }[];
  /** What this run did. */
  run: {
    createRequests: number;
    ambiguous: number;
    rounds: number;
    /** Listings made to reconcile (one per round that had ambiguous creates) and the subjects they read. */
    listings: number;
    scanned: number;
    adopted: number;
    linkRequests: number;
    imports: number;
    ms: number;
  };
}

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

export interface RetractResult {
  uploadBatchId: string;
  /** Every image of the batch: all are off Zooniverse now (subject unlinked, and deleted where permitted, or never created). */
  imageIds: string[];
  subjectsDeleted: number;
  /** Unlinked but not deleted (Panoptes refused the delete); they stay out of every set of the batch. */
  subjectsKept: number;
}

/** Counts per ledger state, for the API, the PI's page and `bridge status`. */
export async function uploadProgress(db: Db | Tx, uploadBatchId: string): Promise<UploadProgress> {
  const b = await db.selectFrom('upload_batches').selectAll().where('id', '=', uploadBatchId).executeTakeFirst();
  if (!b) throw new NotFoundError(`upload batch ${uploadBatchId} not found`);
  return (await progressOf(db, [b]))[0];
}

/** The progress of several batches with one count over their ledgers, in the order given. */
export async function progressOf(db: Db | Tx, batches: UploadBatch[]): Promise<UploadProgress[]> {
  if (!batches.length) return [];
  const rows = await db
    .selectFrom('upload_items')
    .select(['upload_batch_id', 'state', sql<number>`count(*)::int`.as('n')])
    .where('upload_batch_id', 'in', batches.map((b) => b.id))
    .groupBy(['upload_batch_id', 'state'])
    .execute();
  return batches.map((b) => {
    const own = rows.filter((r) => r.upload_batch_id === b.id);
    const n = (s: UploadItemState) => own.find((r) => r.state === s)?.n ?? 0;
    const total = own.reduce((a, r) => a + r.n, 0);
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

/**
 * Uploads the batch (mode 'api' or 'import') and verifies the set. Safe to
 * call again at any time, after a crash at any point: it resumes from the
 * ledger. Throws BlockedError (an UpstreamRefusedError) when the account's
 * subject limit is in the way, other UpstreamRefusedErrors when Panoptes
 * refuses for good (the batch is then 'failed'), and UpstreamError when a
 * later attempt may succeed (the batch stays 'uploading' with the reason in
 * `error`). Item-level refusals (a record Panoptes will not take) do not
 * throw: the batch ends 'failed' with those items listed in its error.
 */
export async function uploadBatch(d: UploadDeps, uploadBatchId: string): Promise<UploadReport> {
  return withBatchLock(d.db, uploadBatchId, () => new BatchUpload(d, uploadBatchId).run());
}

/**
 * For the job layer, when it gives up retrying a batch: records the reason
 * for the PI. Idempotent; a batch already finished is left alone.
 */
export async function failBatch(d: { db: Db; now?: () => Date }, uploadBatchId: string, message: string): Promise<boolean> {
  return d.db.transaction().execute(async (tx) => {
    const b = await tx
      .updateTable('upload_batches')
      .set({ state: 'failed', error: message, updated_at: d.now?.() ?? new Date() })
      .where('id', '=', uploadBatchId)
      .where('state', 'in', ['manifested', 'waiting', 'uploading', 'verifying'])
      .returning(['collection_id', 'seq'])
      .executeTakeFirst();
    if (!b) return false;
    await recordEvent(tx, b.collection_id, 'batch_failed', { uploadBatchId, seq: b.seq, error: message });
    return true;
  });
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
  return withBatchLock(d.db, uploadBatchId, () => retract(d, uploadBatchId, actor));
}

// ------------------------------------------------------------ the engine

interface LedgerRow {
  id: string;
  image_id: string;
  external_id: string;
  state: UploadItemState;
  subject_id: string | null;
  attempts: number;
}

interface ManifestEntry {
  locations: SubjectLocation[];
  metadata: Record<string, unknown>;
}

interface Created {
  id: string;
  sid: string;
}

class BatchUpload {
  private readonly db: Db;
  private readonly panoptes: PanoptesClient;
  private readonly log: Logger;
  private readonly t: UploadTuning;
  private readonly concurrency: number;
  private batch!: UploadBatch;
  private collection!: Collection;
  private projectId!: string;
  private setId!: string;
  private me?: PanoptesUser;
  private manifest?: Map<string, ManifestEntry>;
  private lastAmbiguousAt = 0;
  private readonly duplicates = new Map<string, string[]>();
  private readonly stats = { createRequests: 0, ambiguous: 0, rounds: 0, listings: 0, scanned: 0, adopted: 0, linkRequests: 0, imports: 0, ms: 0 };
  private readonly started = Date.now();

  constructor(
    private readonly d: UploadDeps,
    private readonly id: string,
  ) {
    this.db = d.db;
    this.panoptes = withTokenRetry(d.panoptes);
    this.log = d.log;
    this.t = { ...DEFAULTS, ...d.tuning };
    this.concurrency = Math.max(1, d.concurrency ?? 8);
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  async run(): Promise<UploadReport> {
    this.batch = await loadBatch(this.db, this.id);
    const b = this.batch;
    if (b.mode === 'export') throw new ValidationError(`upload batch ${b.seq} is an offline export: there is nothing to upload`);
    if (b.state === 'uploaded') return this.report();
    if (b.state === 'publishing') throw new ConflictError(`upload batch ${b.seq} is still being published: it has no manifest yet`);
    if (b.state === 'retracted') throw new ConflictError(`upload batch ${b.seq} was retracted`);
    this.collection = await getCollection(this.db, b.collection_id);
    if (!this.collection.zooniverse_project_id) throw new ValidationError(`collection ${this.collection.name} has no Zooniverse project`);
    this.projectId = this.collection.zooniverse_project_id;

    try {
      if (b.state === 'failed') {
        // Asked again after a failure: give the refused items another chance.
        // (attempts stays: those with a send on record are looked for before being sent again.)
        await this.db.updateTable('upload_items').set({ state: 'intent', subject_id: null, error: null, updated_at: this.now() }).where('upload_batch_id', '=', b.id).where('state', '=', 'failed').execute();
      }
      await this.checkLimit();
      await this.setState('uploading', null);
      this.setId = await this.ensureSubjectSet();
      if (b.mode === 'import') {
        try {
          await this.importPhase();
        } catch (e) {
          if (!(await this.importNotAllowed(e))) throw e;
        }
      }
      if (this.batch.mode === 'api') {
        await this.createPhase();
        await this.linkPhase();
      }
      await this.setState('verifying', null);
      await this.verify();
      await this.finish();
    } catch (e) {
      await this.recordFailure(e);
      throw e;
    }
    return this.report();
  }

  // ------------------------------------------------------------ limit

  /** Stops before anything is created when the account cannot take the batch. */
  private async checkLimit(): Promise<void> {
    this.me = await this.panoptes.me();
    let needed = await this.countItems(['intent']);
    if (needed === 0 || this.fits(needed)) return;
    // Some of them may exist already (sent before a crash): they are counted at Zooniverse.
    const suspects = (await this.items(['intent'])).filter((i) => i.attempts > 0);
    if (suspects.length) {
      await this.reconcile(suspects, this.reconcileScope());
      needed = await this.countItems(['intent']);
      if (needed === 0 || this.fits(needed)) return;
    }
    const me = this.me;
    const message = blockedMessage(me.login, me.uploadedSubjectsCount, me.subjectLimit, needed);
    await this.block(message, me.uploadedSubjectsCount, me.subjectLimit, needed);
  }

  private fits(needed: number): boolean {
    return this.me!.uploadedSubjectsCount + needed <= this.me!.subjectLimit;
  }

  private async block(message: string, uploaded: number, limit: number, needed: number): Promise<never> {
    const login = this.me?.login ?? 'the bridge account';
    await this.db.transaction().execute(async (tx) => {
      const prev = await tx.selectFrom('upload_batches').select('state').where('id', '=', this.id).forUpdate().executeTakeFirstOrThrow();
      await tx.updateTable('upload_batches').set({ state: 'blocked', error: message, updated_at: this.now() }).where('id', '=', this.id).execute();
      if (prev.state !== 'blocked') await recordEvent(tx, this.batch.collection_id, 'batch_blocked', { uploadBatchId: this.id, seq: this.batch.seq, login, uploaded, limit, needed, message });
    });
    this.log.warn({ uploadBatchId: this.id, login, uploaded, limit, needed }, 'upload blocked by the Zooniverse subject limit');
    throw new BlockedError(message, login, uploaded, limit, needed);
  }

  // ------------------------------------------------------------ subject set

  private async ensureSubjectSet(): Promise<string> {
    const b = this.batch;
    if (b.subject_set_id) return b.subject_set_id;
    const perCollection = this.collection.subject_set_per === 'collection';
    if (perCollection) {
      const sibling = await this.db
        .selectFrom('upload_batches')
        .select('subject_set_id')
        .where('collection_id', '=', b.collection_id)
        .where('subject_set_id', 'is not', null)
        .orderBy('seq')
        .executeTakeFirst();
      if (sibling?.subject_set_id) return this.saveSetId(sibling.subject_set_id);
    }
    const displayName = subjectSetName(this.collection, b.seq);
    const marker: Record<string, string> = perCollection ? { '#bridge_collection': b.collection_id } : { '#bridge_collection': b.collection_id, '#bridge_upload_batch': b.id };
    const { set, created } = await findOrCreateSubjectSet(this.panoptes, { projectId: this.projectId, displayName, marker }, { settle: () => this.t.sleep(this.t.settleMs) });
    this.log.info({ uploadBatchId: b.id, subjectSetId: set.id, displayName, created }, created ? 'subject set created' : 'subject set found');
    return this.saveSetId(set.id);
  }

  /** Recorded before any subject is created, so a resumed run uses the same set. */
  private async saveSetId(setId: string): Promise<string> {
    await this.db.updateTable('upload_batches').set({ subject_set_id: setId, updated_at: this.now() }).where('id', '=', this.id).execute();
    this.batch.subject_set_id = setId;
    return setId;
  }

  // ------------------------------------------------------------ api mode: create

  private async createPhase(): Promise<void> {
    const recorder = new Recorder(this);
    /** Items whose last create certainly did nothing (refused before it ran): no need to look for them. */
    const uncommitted = new Set<string>();
    const transient = new Map<string, number>();
    try {
      for (let round = 1; ; round++) {
        const intent = await this.items(['intent']);
        if (!intent.length) break;
        if (round > this.t.maxRounds) {
          throw new UpstreamError(`${intent.length} subjects of upload batch ${this.batch.seq} are still unresolved after ${this.t.maxRounds} rounds of creating and reconciling; the next attempt resumes from the ledger`);
        }
        this.stats.rounds++;
        const suspects = intent.filter((i) => i.attempts > 0 && !uncommitted.has(i.id));
        const todo = intent.filter((i) => i.attempts === 0 || uncommitted.has(i.id));
        uncommitted.clear();
        if (suspects.length) {
          const adopted = await this.reconcile(suspects, this.reconcileScope());
          for (const s of suspects) if (!adopted.has(s.id)) todo.push(s);
        }
        if (todo.length) await this.createPass(todo, recorder, uncommitted, transient);
      }
    } catch (e) {
      // Whatever was created is still written down (and linked) before the error goes up.
      await recorder.close().catch(() => undefined);
      throw e;
    }
    await recorder.close();
  }

  private async createPass(todo: LedgerRow[], recorder: Recorder, uncommitted: Set<string>, transient: Map<string, number>): Promise<void> {
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
          await this.failItem(item.id, `image ${item.external_id} has no entry in the batch's manifest`);
          return;
        }
        if (!(await this.claim(item.id))) return;
        this.stats.createRequests++;
        try {
          const s = await this.panoptes.createSubject({ projectId: this.projectId, subjectSetIds: [this.setId], locations: entry.locations, metadata: entry.metadata, externalId: item.external_id });
          recorder.created({ id: item.id, sid: s.id });
          authRefusals = 0;
          streak = 0;
        } catch (e) {
          if (e instanceof AmbiguousRequestError) {
            // Left as intent with attempts > 0: the next round looks for it before anything else.
            this.stats.ambiguous++;
            this.lastAmbiguousAt = Date.now();
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
            uncommitted.add(item.id);
            if (++authRefusals > 2 * this.concurrency) stop ??= e;
            return;
          }
          const refusal = itemRefusal(e);
          if (refusal) {
            await this.failItem(item.id, refusal);
            return;
          }
          if (e instanceof UpstreamError) {
            // Not ambiguous: refused before it ran (429/503 past the client's retries, no connection).
            uncommitted.add(item.id);
            const n = (transient.get(item.id) ?? 0) + 1;
            transient.set(item.id, n);
            if (n >= this.t.maxTransientPerItem) stop ??= e;
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
      const left = await this.countItems(['intent']);
      const uploaded = stop.uploaded ?? this.me?.uploadedSubjectsCount ?? 0;
      const limit = stop.limit ?? this.me?.subjectLimit ?? 0;
      await this.block(blockedMessage(this.me?.login ?? 'the bridge account', uploaded, limit, left), uploaded, limit, left);
    }
    if (stop !== undefined) throw stop;
  }

  /**
   * Where a subject sent for this batch can be: its set, once one is on
   * record (every create and import names it, and the set is saved before
   * the first one). Without a set nothing can have been sent; the project
   * listing is only the safe answer should that ever not hold.
   */
  private reconcileScope(): SubjectScope {
    return this.batch.subject_set_id ? { subjectSetId: this.batch.subject_set_id } : { projectId: this.projectId };
  }

  /** Write-ahead: the attempt is on record before the request leaves. */
  private async claim(itemId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('upload_items')
      .set({ attempts: sql<number>`attempts + 1`, updated_at: this.now() })
      .where('id', '=', itemId)
      .where('state', '=', 'intent')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Looks for the subjects the suspects' creates may have made: one listing
   * of the scope for all of them. Found ones are adopted (state 'created');
   * returns their item ids.
   */
  private async reconcile(suspects: LedgerRow[], scope: SubjectScope): Promise<Set<string>> {
    const wait = this.lastAmbiguousAt + this.t.settleMs - Date.now();
    if (wait > 0) await this.t.sleep(wait);
    const m = await matchExternalIds(this.panoptes, scope, suspects.map((s) => s.external_id));
    this.stats.listings++;
    this.stats.scanned += m.scanned;
    for (const dup of m.duplicates) this.duplicates.set(dup.externalId, dup.subjectIds);
    const adopted: Created[] = [];
    for (const s of suspects) {
      const found = m.found.get(s.external_id);
      if (found) adopted.push({ id: s.id, sid: found.id });
    }
    await this.recordCreated(adopted);
    this.stats.adopted += adopted.length;
    this.log.info({ uploadBatchId: this.id, suspects: suspects.length, adopted: adopted.length, scanned: m.scanned, duplicates: m.duplicates.length }, 'reconciled ambiguous creates');
    return new Set(adopted.map((a) => a.id));
  }

  /** One statement for a group of creates. */
  async recordCreated(rows: Created[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      const part = rows.slice(i, i + 500);
      await sql`
        update upload_items as u
           set state = 'created', subject_id = v.sid, error = null, updated_at = ${this.now()}
          from (values ${sql.join(part.map((r) => sql`(${r.id}::uuid, ${r.sid}::text)`))}) as v(id, sid)
         where u.id = v.id and u.state = 'intent'`.execute(this.db);
    }
  }

  // ------------------------------------------------------------ api mode: link

  /** Links every created subject of the ledger (some may come from earlier runs or reconciliation). */
  private async linkPhase(): Promise<void> {
    const created = await this.items(['created']);
    for (let i = 0; i < created.length; i += this.t.linkChunk) {
      await this.linkChunk(created.slice(i, i + this.t.linkChunk).map((r) => ({ id: r.id, sid: r.subject_id! })));
    }
  }

  async linkChunk(rows: Created[]): Promise<void> {
    if (!rows.length) return;
    this.stats.linkRequests++;
    try {
      await this.panoptes.linkSubjects(this.setId, rows.map((r) => r.sid));
    } catch (e) {
      // Unprocessable: some id is not a subject any more (deleted in the project since): find which.
      if (!(e instanceof PanoptesRefused) || e.reason !== 'unprocessable') throw e;
      const live = new Set<string>();
      for await (const s of this.panoptes.findSubjects({ ids: rows.map((r) => r.sid) })) live.add(s.id);
      const gone = rows.filter((r) => !live.has(r.sid));
      if (!gone.length) throw e;
      for (const g of gone) await this.failItem(g.id, `subject ${g.sid} no longer exists at Zooniverse (deleted from the project?)`);
      rows = rows.filter((r) => live.has(r.sid));
      if (!rows.length) return;
      this.stats.linkRequests++;
      await this.panoptes.linkSubjects(this.setId, rows.map((r) => r.sid));
    }
    await this.db
      .updateTable('upload_items')
      .set({ state: 'linked', updated_at: this.now() })
      .where('id', 'in', rows.map((r) => r.id))
      .where('state', '=', 'created')
      .execute();
  }

  // ------------------------------------------------------------ import mode

  private async importPhase(): Promise<void> {
    const b = this.batch;
    if (!b.manifest_csv_key) throw new ValidationError(`upload batch ${b.seq} has no manifest CSV to import`);
    const sourceUrl = this.d.store.publicUrl(b.manifest_csv_key);
    let imp: PanoptesSubjectSetImport | undefined;
    if (b.import_id) {
      imp = await this.panoptes.getSubjectSetImport(b.import_id).catch((e: unknown) => {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      });
    } else if ((await this.items(['intent'])).some((i) => i.attempts > 0)) {
      // An import may have been requested before a crash lost its id.
      imp = await this.latestImport(sourceUrl);
      if (imp) await this.saveImportId(imp.id);
    }
    if (imp) await this.matchFromSet();
    for (let n = 0; ; n++) {
      if (!(await this.countItems(['intent']))) return;
      if (!imp || n > 0) imp = await this.startImport(sourceUrl);
      const outcome = await this.pollImport(imp);
      await this.matchFromSet();
      const left = await this.items(['intent']);
      if (!left.length) return;
      if (n >= this.t.maxReimports) {
        const why = outcome.stalled
          ? `Zooniverse import ${outcome.imp.id} stopped at ${outcome.imp.importedCount} of ${outcome.imp.manifestCount} rows`
          : `Zooniverse import ${outcome.imp.id} finished with ${outcome.imp.failedCount} of ${outcome.imp.manifestCount} rows failed (Panoptes does not say which or why)`;
        for (const i of left) await this.failItem(i.id, `${why}; the subject is not in subject set ${this.setId}`);
        return;
      }
      this.log.warn({ uploadBatchId: b.id, importId: outcome.imp.id, missing: left.length, stalled: outcome.stalled }, 'import left rows missing: importing again (external_id upserts)');
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
  private async importNotAllowed(e: unknown): Promise<boolean> {
    if (!(e instanceof PanoptesRefused) || e.reason !== 'forbidden' || this.batch.import_id) return false;
    if (e instanceof SubjectLimitError) return false;
    await this.db.updateTable('upload_batches').set({ mode: 'api', updated_at: this.now() }).where('id', '=', this.id).where('mode', '=', 'import').execute();
    this.batch.mode = 'api';
    this.log.warn({ uploadBatchId: this.id, err: (e as Error).message }, 'Zooniverse refused the import; uploading this batch subject by subject instead');
    return true;
  }

  private async latestImport(sourceUrl: string, after?: string): Promise<PanoptesSubjectSetImport | undefined> {
    const all = (await this.panoptes.findSubjectSetImports({ subjectSetId: this.setId })).filter((i) => i.sourceUrl === sourceUrl && (after === undefined || compareIds(i.id, after) > 0));
    all.sort((a, b) => compareIds(a.id, b.id));
    return all.at(-1);
  }

  private async startImport(sourceUrl: string): Promise<PanoptesSubjectSetImport> {
    // Write-ahead, as for creates: a lost answer is looked for on resume.
    await this.db.updateTable('upload_items').set({ attempts: sql<number>`attempts + 1`, updated_at: this.now() }).where('upload_batch_id', '=', this.id).where('state', '=', 'intent').execute();
    const before = (await this.latestImport(sourceUrl))?.id;
    let imp: PanoptesSubjectSetImport | undefined;
    for (let n = 1; !imp; n++) {
      this.stats.imports++;
      try {
        imp = await this.panoptes.createSubjectSetImport({ subjectSetId: this.setId, sourceUrl });
      } catch (e) {
        if (!(e instanceof AmbiguousRequestError) || n >= 3) throw e;
        await this.t.sleep(this.t.settleMs);
        imp = await this.latestImport(sourceUrl, before);
      }
    }
    await this.saveImportId(imp.id);
    this.log.info({ uploadBatchId: this.id, importId: imp.id, rows: imp.manifestCount }, 'import started');
    return imp;
  }

  private async saveImportId(importId: string): Promise<void> {
    await this.db.updateTable('upload_batches').set({ import_id: importId, updated_at: this.now() }).where('id', '=', this.id).execute();
    this.batch.import_id = importId;
  }

  private async pollImport(imp: PanoptesSubjectSetImport): Promise<{ imp: PanoptesSubjectSetImport; stalled: boolean }> {
    let mark = importMark(imp);
    let still = 0;
    const window = this.t.importPollMs * this.t.importStallPolls;
    // An import found again after a restart may have died long ago: no need to watch it for another window.
    if (imp.state !== 'completed' && Date.now() - Date.parse(imp.updatedAt) > 2 * window) return { imp, stalled: true };
    while (imp.state !== 'completed') {
      await this.t.sleep(this.t.importPollMs);
      imp = await this.panoptes.getSubjectSetImport(imp.id);
      const m = importMark(imp);
      if (m === mark) {
        if (++still >= this.t.importStallPolls) return { imp, stalled: true };
      } else {
        still = 0;
        mark = m;
        this.log.debug({ uploadBatchId: this.id, importId: imp.id, imported: imp.importedCount, of: imp.manifestCount }, 'import progress');
      }
    }
    return { imp, stalled: false };
  }

  /** The set's members matched against the ledger's waiting rows: found ones are linked. */
  private async matchFromSet(): Promise<void> {
    const intent = await this.items(['intent']);
    if (!intent.length) return;
    const m = await matchExternalIds(this.panoptes, { subjectSetId: this.setId }, intent.map((i) => i.external_id));
    this.stats.listings++;
    this.stats.scanned += m.scanned;
    for (const dup of m.duplicates) this.duplicates.set(dup.externalId, dup.subjectIds);
    const found = intent.flatMap((i) => {
      const s = m.found.get(i.external_id);
      return s ? [{ id: i.id, sid: s.id }] : [];
    });
    await this.recordCreated(found);
    if (found.length) {
      for (let i = 0; i < found.length; i += 1000) {
        await this.db.updateTable('upload_items').set({ state: 'linked', updated_at: this.now() }).where('id', 'in', found.slice(i, i + 1000).map((f) => f.id)).where('state', '=', 'created').execute();
      }
    }
  }

  // ------------------------------------------------------------ verify and finish

  /**
   * Every linked ledger subject must be a member of the set; any that is not
   * is linked again (twice at most). Membership is asked for our ids, 100 per
   * request, several requests at once. When the set holds exactly as many
   * subjects as the ledgers using it have linked, there is nothing else in
   * it, so no duplicate; otherwise (another batch still running, Panoptes'
   * count trailing, or extra subjects) the full member listing is read and
   * duplicates by external_id among our subjects are reported.
   */
  private async verify(): Promise<void> {
    for (let pass = 1; ; pass++) {
      const linked = await this.items(['linked']);
      const [set, expected] = await Promise.all([this.panoptes.getSubjectSet(this.setId), this.linkedInSet()]);
      const members = new Set<string>();
      const chunks: string[][] = [];
      for (let i = 0; i < linked.length; i += 100) chunks.push(linked.slice(i, i + 100).map((r) => r.subject_id!));
      await pool(chunks, 4, () => false, async (ids) => {
        for await (const s of this.panoptes.findSubjects({ subjectSetId: this.setId, ids })) members.add(s.id);
      });
      const missing = linked.filter((i) => !members.has(i.subject_id!));
      if (!missing.length) {
        if (set.setMemberSubjectsCount !== expected) await this.findDuplicatesInSet(linked, set.setMemberSubjectsCount, expected);
        return;
      }
      if (pass > 2) throw new UpstreamError(`${missing.length} subjects of upload batch ${this.batch.seq} are not in subject set ${this.setId} after linking them again`);
      this.log.warn({ uploadBatchId: this.id, missing: missing.length }, 'linked subjects missing from the set: linking again');
      // Imported subjects that are not in the set are linked back like any other.
      await this.db.updateTable('upload_items').set({ state: 'created', updated_at: this.now() }).where('id', 'in', missing.map((m) => m.id)).where('state', '=', 'linked').execute();
      await this.linkPhase();
    }
  }

  /** Linked ledger rows of every batch that uses this batch's set. */
  private async linkedInSet(): Promise<number> {
    const r = await this.db
      .selectFrom('upload_items as i')
      .innerJoin('upload_batches as b', 'b.id', 'i.upload_batch_id')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('b.subject_set_id', '=', this.setId)
      .where('i.state', '=', 'linked')
      .executeTakeFirstOrThrow();
    return r.n;
  }

  private async findDuplicatesInSet(linked: LedgerRow[], counted: number, expected: number): Promise<void> {
    this.log.info({ uploadBatchId: this.id, counted, expected }, 'subject set count differs from the ledgers: reading the whole set');
    const mine = new Set(linked.map((i) => i.external_id));
    const byExternal = new Map<string, string[]>();
    for await (const s of this.panoptes.findSubjects({ subjectSetId: this.setId })) {
      if (s.externalId !== null && mine.has(s.externalId)) byExternal.set(s.externalId, [...(byExternal.get(s.externalId) ?? []), s.id]);
    }
    for (const [ext, ids] of byExternal) if (ids.length > 1) this.duplicates.set(ext, ids.sort(compareIds));
  }

  private async finish(): Promise<void> {
    const p = await uploadProgress(this.db, this.id);
    const failed = p.failed;
    const duplicates = [...this.duplicates].map(([externalId, subjectIds]) => ({ externalId, subjectIds }));
    let error: string | null = null;
    if (failed) {
      // The reasons, most frequent first, each with one example.
      const reasons = await this.db
        .selectFrom('upload_items')
        .select(['error', sql<number>`count(*)::int`.as('n'), sql<string>`min(external_id)`.as('example')])
        .where('upload_batch_id', '=', this.id)
        .where('state', '=', 'failed')
        .groupBy('error')
        .orderBy('n', 'desc')
        .limit(3)
        .execute();
      error = `${failed} of ${p.total} subjects could not be uploaded: ${reasons.map((r) => `${r.n} × ${r.error} (e.g. ${r.example})`).join('; ')}`;
    }
    const to: UploadBatchState = failed ? 'failed' : 'uploaded';
    await this.db.transaction().execute(async (tx) => {
      const moved = await tx.updateTable('upload_batches').set({ state: to, error, updated_at: this.now() }).where('id', '=', this.id).where('state', '=', 'verifying').executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return;
      // Images whose subject is in the set are on Zooniverse now.
      const images = await tx
        .updateTable('images')
        .set({ state: 'uploaded', updated_at: this.now() })
        .where('state', '=', 'published')
        .where('id', 'in', tx.selectFrom('upload_items').select('image_id').where('upload_batch_id', '=', this.id).where('state', '=', 'linked'))
        .returning('id')
        .execute();
      for (let i = 0; i < images.length; i += 1000) {
        await tx
          .insertInto('transitions')
          .values(images.slice(i, i + 1000).map((r) => ({ entity: 'image' as const, entity_id: r.id, from_state: 'published', to_state: 'uploaded', actor: 'uploader', reason: `upload batch ${this.batch.seq}, subject set ${this.setId}` })))
          .execute();
      }
      const payload = { uploadBatchId: this.id, seq: this.batch.seq, subjectSetId: this.setId, total: p.total, linked: p.linked, failed, duplicates: duplicates.length, ...(error ? { error } : {}) };
      await recordEvent(tx, this.batch.collection_id, failed ? 'batch_failed' : 'batch_uploaded', payload);
    });
    if (duplicates.length) this.log.warn({ uploadBatchId: this.id, duplicates: duplicates.slice(0, 10) }, 'subjects duplicated by external_id in the set');
    this.log.info({ uploadBatchId: this.id, state: to, linked: p.linked, failed, ...this.stats }, 'upload batch finished');
  }

  /** After a throw: refusals fail the batch for the PI to see; passing trouble is noted and left to the next attempt. */
  private async recordFailure(e: unknown): Promise<void> {
    if (e instanceof BlockedError) return;
    try {
      const message = (e as Error).message;
      if (e instanceof UpstreamError) {
        await this.db.updateTable('upload_batches').set({ error: `retrying: ${message}`, updated_at: this.now() }).where('id', '=', this.id).where('state', 'in', ['uploading', 'verifying', 'manifested', 'waiting']).execute();
      } else if (e instanceof UpstreamRefusedError || e instanceof NotFoundError || e instanceof ValidationError) {
        await failBatch(this.d, this.id, message);
      }
    } catch (inner) {
      this.log.error({ uploadBatchId: this.id, err: (inner as Error).message }, 'could not record the upload failure');
    }
  }

  // ------------------------------------------------------------ ledger access

  async failItem(itemId: string, message: string): Promise<void> {
    await this.db.updateTable('upload_items').set({ state: 'failed', error: message, updated_at: this.now() }).where('id', '=', itemId).where('state', 'in', ['intent', 'created', 'linked']).execute();
  }

  private items(states: UploadItemState[]): Promise<LedgerRow[]> {
    return this.db
      .selectFrom('upload_items')
      .select(['id', 'image_id', 'external_id', 'state', 'subject_id', 'attempts'])
      .where('upload_batch_id', '=', this.id)
      .where('state', 'in', states)
      .orderBy('external_id')
      .execute();
  }

  private async countItems(states: UploadItemState[]): Promise<number> {
    const r = await this.db
      .selectFrom('upload_items')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('upload_batch_id', '=', this.id)
      .where('state', 'in', states)
      .executeTakeFirstOrThrow();
    return r.n;
  }

  private async setState(to: UploadBatchState, error: string | null): Promise<void> {
    await this.db.updateTable('upload_batches').set({ state: to, error, updated_at: this.now() }).where('id', '=', this.id).execute();
    this.batch.state = to;
  }

  private async loadManifest(): Promise<Map<string, ManifestEntry>> {
    if (this.manifest) return this.manifest;
    const key = this.batch.manifest_json_key;
    if (!key) throw new ValidationError(`upload batch ${this.batch.seq} has no JSON manifest`);
    const { body } = await this.d.store.get('public', key);
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

  private async report(): Promise<UploadReport> {
    const p = await uploadProgress(this.db, this.id);
    this.stats.ms = Date.now() - this.started;
    return { ...p, duplicates: [...this.duplicates].map(([externalId, subjectIds]) => ({ externalId, subjectIds })), run: { ...this.stats } };
  }

  get tuning(): UploadTuning {
    return this.t;
  }
}

/**
 * Records created subjects in groups (one statement each) and links them in
 * chunks of 100 while creation goes on. A crash loses at most the group not
 * yet written; those rows are intent with attempts > 0 and get reconciled.
 */
class Recorder {
  private buffer: Created[] = [];
  private linkable: Created[] = [];
  private writing: Promise<void> = Promise.resolve();
  private linking: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  error: unknown;

  constructor(private readonly u: BatchUpload) {}

  created(row: Created): void {
    this.buffer.push(row);
    if (this.buffer.length >= this.u.tuning.flushEvery) void this.write();
    else this.timer ??= setTimeout(() => void this.write(), this.u.tuning.flushAfterMs);
  }

  /** Writes what is buffered; rethrows the first failure of the recorder. */
  async flush(): Promise<void> {
    await this.write();
    if (this.error !== undefined) throw this.error;
  }

  /** Everything written and linked. */
  async close(): Promise<void> {
    await this.write();
    const rest = this.linkable.splice(0);
    if (rest.length) this.link(rest);
    await this.linking;
    if (this.error !== undefined) throw this.error;
  }

  private write(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer.splice(0);
    if (rows.length) {
      this.writing = this.writing.then(async () => {
        if (this.error !== undefined) return;
        try {
          await this.u.recordCreated(rows);
          this.linkable.push(...rows);
          const chunk = this.u.tuning.linkChunk;
          while (this.linkable.length >= chunk) this.link(this.linkable.splice(0, chunk));
        } catch (e) {
          this.error ??= e;
        }
      });
    }
    return this.writing;
  }

  private link(rows: Created[]): void {
    this.linking = this.linking.then(async () => {
      if (this.error !== undefined) return;
      try {
        await this.u.linkChunk(rows);
      } catch (e) {
        this.error ??= e;
      }
    });
  }
}

// ------------------------------------------------------------ retract

async function retract(deps: UploadDeps, uploadBatchId: string, actor: string): Promise<RetractResult> {
  const d = { ...deps, panoptes: withTokenRetry(deps.panoptes) };
  const t = { ...DEFAULTS, ...d.tuning };
  const now = () => d.now?.() ?? new Date();
  const batch = await loadBatch(d.db, uploadBatchId);
  const collection = await getCollection(d.db, batch.collection_id);
  const projectId = collection.zooniverse_project_id;
  const rows = await d.db
    .selectFrom('upload_items')
    .select(['id', 'image_id', 'external_id', 'state', 'subject_id', 'attempts'])
    .where('upload_batch_id', '=', uploadBatchId)
    .where('state', '!=', 'retracted')
    .execute();

  // Creates (or an import) whose answer was never recorded may have made subjects: find them first.
  const extraCopies = new Map<string, string[]>();
  const unknown = rows.filter((r) => !r.subject_id && (r.attempts > 0 || (batch.mode === 'import' && batch.import_id)));
  if (unknown.length && projectId) {
    const scope: SubjectScope = batch.subject_set_id ? { subjectSetId: batch.subject_set_id } : { projectId };
    const m = await matchExternalIds(d.panoptes, scope, unknown.map((r) => r.external_id));
    for (const r of unknown) {
      const s = m.found.get(r.external_id);
      if (!s) continue;
      r.subject_id = s.id;
      await d.db.updateTable('upload_items').set({ subject_id: s.id, updated_at: now() }).where('id', '=', r.id).execute();
    }
    // Extra copies of our subjects (duplicates) go too.
    for (const dup of m.duplicates) {
      const r = unknown.find((u) => u.external_id === dup.externalId);
      if (r) extraCopies.set(r.id, dup.subjectIds.filter((id) => id !== r.subject_id));
    }
  }

  const withSubject = rows.filter((r) => r.subject_id);
  const sids = withSubject.map((r) => r.subject_id!);
  if (batch.subject_set_id && sids.length) await d.panoptes.unlinkSubjects(batch.subject_set_id, sids);
  let deleted = 0;
  let kept = 0;
  await pool(withSubject, t.deleteConcurrency, () => false, async (r) => {
    const ids = [r.subject_id!, ...(extraCopies.get(r.id) ?? [])];
    let refused = false;
    for (const sid of ids) {
      try {
        await d.panoptes.deleteSubject(sid);
      } catch (e) {
        // Forbidden, or unprocessable (a subject Panoptes will not let go): it stays, unlinked.
        if (!(e instanceof PanoptesRefused) || (e.reason !== 'forbidden' && e.reason !== 'unprocessable')) throw e;
        refused = true;
        d.log.warn({ uploadBatchId, subjectId: sid, err: e.message }, 'Zooniverse refused to delete a subject; it stays unlinked');
      }
    }
    if (refused) kept++;
    else deleted++;
    await d.db.updateTable('upload_items').set({ state: 'retracted', updated_at: now() }).where('id', '=', r.id).execute();
  });

  // Every image of the batch, those retracted by an earlier call included: the caller's clean-up can repeat too.
  const imageIds = (await d.db.selectFrom('upload_items').select('image_id').where('upload_batch_id', '=', uploadBatchId).orderBy('image_id').execute()).map((r) => r.image_id);
  await d.db.transaction().execute(async (tx) => {
    await tx.updateTable('upload_items').set({ state: 'retracted', updated_at: now() }).where('upload_batch_id', '=', uploadBatchId).where('state', '!=', 'retracted').execute();
    const prev = await tx.selectFrom('upload_batches').select('state').where('id', '=', uploadBatchId).forUpdate().executeTakeFirstOrThrow();
    await tx.updateTable('upload_batches').set({ state: 'retracted', updated_at: now() }).where('id', '=', uploadBatchId).execute();
    if (prev.state !== 'retracted') {
      const detail = { seq: batch.seq, subjectSetId: batch.subject_set_id, images: imageIds.length, subjectsDeleted: deleted, subjectsKept: kept };
      await recordEvent(tx, batch.collection_id, 'batch_retracted', { uploadBatchId, ...detail });
      await appendAudit(tx, [{ actor, action: 'batch_retracted', entity: 'batch', entityId: uploadBatchId, collectionId: batch.collection_id, detail }]);
    }
  });
  d.log.info({ uploadBatchId, images: imageIds.length, deleted, kept }, 'upload batch retracted');
  return { uploadBatchId, imageIds, subjectsDeleted: deleted, subjectsKept: kept };
}

// ------------------------------------------------------------ helpers

async function loadBatch(db: Db, id: string): Promise<UploadBatch> {
  const b = await db.selectFrom('upload_batches').selectAll().where('id', '=', id).executeTakeFirst();
  if (!b) throw new NotFoundError(`upload batch ${id} not found`);
  return b;
}

export function blockedMessage(login: string, uploaded: number, limit: number, needed: number): string {
  return `Zooniverse user ${login} has uploaded ${uploaded} of ${limit} subjects; this batch needs ${needed} more: ask Zooniverse to raise the limit`;
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

/** A refusal of this one record (bad location or metadata), as opposed to a refusal of the whole run. */
function itemRefusal(e: unknown): string | undefined {
  if (e instanceof ValidationError) return e.message;
  if (e instanceof PanoptesRefused && (e.reason === 'invalid' || e.reason === 'unprocessable')) return e.message;
  return undefined;
}

function importMark(i: PanoptesSubjectSetImport): string {
  return `${i.importedCount}/${i.failedCount}/${i.updatedAt}`;
}

/** `work` over `items`, `n` at a time; stops taking new items once `stopped()` says so. */
async function pool<T>(items: readonly T[], n: number, stopped: () => boolean, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (!stopped() && next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, runner));
}

// ------------------------------------------------------------ one runner per batch

const running = new Set<string>();
const embedded = new WeakMap<Db, Promise<boolean>>();

/**
 * One run per batch at a time: two runners would each create what the other
 * has in flight. Within a process a set of ids; across processes (Postgres)
 * a session advisory lock on a connection held for the run, released by
 * Postgres itself if the process dies. PGlite is one process's database, so
 * the in-process guard is all it needs.
 */
/** Another run holds the batch (in this process or another worker): it is in hand, not stuck. */
export class BatchBusyError extends ConflictError {}

async function withBatchLock<T>(db: Db, uploadBatchId: string, fn: () => Promise<T>): Promise<T> {
  if (running.has(uploadBatchId)) throw new BatchBusyError(`upload batch ${uploadBatchId} is already being processed`);
  running.add(uploadBatchId);
  try {
    let isEmbedded = embedded.get(db);
    if (!isEmbedded) {
      isEmbedded = sql<{ v: string }>`select version() as v`.execute(db).then((r) => /pglite|emscripten/i.test(r.rows[0]?.v ?? ''));
      embedded.set(db, isEmbedded);
    }
    if (await isEmbedded) return await fn();
    const key = `upload_batch:${uploadBatchId}`;
    return await db.connection().execute(async (conn) => {
      const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext(${key})) as ok`.execute(conn);
      if (!got.rows[0]?.ok) throw new BatchBusyError(`upload batch ${uploadBatchId} is being processed by another worker`);
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
      }
    });
  } finally {
    running.delete(uploadBatchId);
  }
}
