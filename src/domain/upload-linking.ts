import { PanoptesRefused } from './ports/panoptes-client.js';
import type { CreatedSubject, UploadLedgerRepository } from './ports/upload-ledger-repository.js';
import type { UploadTuning } from './upload-config.js';
import type { UploadRun } from './upload-run.js';

/*
 * Subjects are created already linked to the batch's set; linking them again
 * in chunks of 100 (like the official client) is a cheap confirmation that
 * every recorded subject is a member, and re-linking a member is harmless.
 */

/** Links ledger subjects to the run's set and records them linked. */
export class SubjectLinker {
  constructor(private readonly run: UploadRun) {}

  /** One link request for `rows` (at most a chunk); subjects deleted at Zooniverse since are failed, the rest linked. */
  async link(rows: CreatedSubject[]): Promise<void> {
    if (!rows.length) return;
    const { panoptes, stats, setId } = this.run;
    const ledger = this.run.repos.ledger;
    stats.linkRequests++;
    try {
      await panoptes.linkSubjects(setId, rows.map((r) => r.subjectId));
    } catch (e) {
      // Unprocessable: some id is not a subject any more (deleted in the project since): find which.
      if (!(e instanceof PanoptesRefused) || e.reason !== 'unprocessable') throw e;
      const live = new Set<string>();
      for await (const s of panoptes.findSubjects({ ids: rows.map((r) => r.subjectId) })) live.add(s.id);
      const gone = rows.filter((r) => !live.has(r.subjectId));
      if (!gone.length) throw e;
      for (const g of gone) await ledger.recordFailed([g.itemId], `subject ${g.subjectId} no longer exists at Zooniverse (deleted from the project?)`);
      rows = rows.filter((r) => live.has(r.subjectId));
      if (!rows.length) return;
      stats.linkRequests++;
      await panoptes.linkSubjects(setId, rows.map((r) => r.subjectId));
    }
    await ledger.recordLinked(rows.map((r) => r.itemId));
  }

  /** Links every created subject of the ledger (some may come from earlier runs or reconciliation). */
  async linkAllCreated(): Promise<void> {
    const created = await this.run.repos.ledger.items(this.run.batch.id, ['created']);
    const chunk = this.run.t.linkChunk;
    for (let i = 0; i < created.length; i += chunk) {
      await this.link(created.slice(i, i + chunk).map((r) => ({ itemId: r.id, subjectId: r.subject_id! })));
    }
  }
}

/**
 * Records created subjects in the ledger in groups (one statement each) and
 * hands them to the linker in chunks while creation goes on. A crash loses
 * at most the group not yet written; those rows are intent with attempts > 0
 * and get reconciled.
 */
export class LedgerRecorder {
  private buffer: CreatedSubject[] = [];
  private linkable: CreatedSubject[] = [];
  private writing: Promise<void> = Promise.resolve();
  private linking: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** The first failure of a write or a link; once set, nothing more is written or linked. */
  error: unknown;

  constructor(
    private readonly ledger: UploadLedgerRepository,
    private readonly linker: SubjectLinker,
    private readonly t: Pick<UploadTuning, 'flushEvery' | 'flushAfterMs' | 'linkChunk'>,
  ) {}

  created(row: CreatedSubject): void {
    this.buffer.push(row);
    if (this.buffer.length >= this.t.flushEvery) void this.write();
    else this.timer ??= setTimeout(() => void this.write(), this.t.flushAfterMs);
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
          await this.ledger.recordCreated(rows);
          this.linkable.push(...rows);
          const chunk = this.t.linkChunk;
          while (this.linkable.length >= chunk) this.link(this.linkable.splice(0, chunk));
        } catch (e) {
          this.error ??= e;
        }
      });
    }
    return this.writing;
  }

  private link(rows: CreatedSubject[]): void {
    this.linking = this.linking.then(async () => {
      if (this.error !== undefined) return;
      try {
        await this.linker.link(rows);
      } catch (e) {
        this.error ??= e;
      }
    });
  }
}
