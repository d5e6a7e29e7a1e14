import type { ArtifactsRepository } from './artifacts-repository.js';
import type { AuditRepository } from './audit-repository.js';
import type { BatchesRepository } from './batches-repository.js';
import type { ClassificationsRepository } from './classifications-repository.js';
import type { CollectionsRepository } from './collections-repository.js';
import type { DelegationsRepository } from './delegations-repository.js';
import type { ProjectBindingsRepository } from './project-bindings-repository.js';
import type { ReductionsRepository } from './reductions-repository.js';
import type { EventsRepository } from './events-repository.js';
import type { HealthRepository } from './health-repository.js';
import type { ImagesRepository } from './images-repository.js';
import type { SessionsRepository } from './sessions-repository.js';
import type { StoppedWorkRepository } from './stopped-work-repository.js';
import type { UploadBatchesRepository } from './upload-batches-repository.js';
import type { UploadLedgerRepository } from './upload-ledger-repository.js';
import type { ResultsRulesRepository } from './results-rules-repository.js';
import type { ResultEffectsRepository } from './result-effects-repository.js';
import type { ResultsReadRepository } from './results-read-repository.js';
import type { CaesarReductionsRepository } from './caesar-reductions-repository.js';

/**
 * Everything the domain reads and writes about its records, as one bundle.
 * `src/db/repositories` implements it on Kysely (Postgres or PGlite); the
 * domain never sees SQL.
 *
 * `transaction(fn)` runs `fn` against repositories bound to one database
 * transaction: every write in it commits or none does, which is how a state
 * change and its audit row or event are never separated. Row locks taken with
 * the `lock...` methods last until the transaction ends. Called on a bundle
 * that is already inside a transaction, it simply joins that transaction.
 */
export interface Repositories {
  collections: CollectionsRepository;
  artifacts: ArtifactsRepository;
  images: ImagesRepository;
  batches: BatchesRepository;
  audit: AuditRepository;
  events: EventsRepository;
  delegations: DelegationsRepository;
  projectBindings: ProjectBindingsRepository;
  uploadBatches: UploadBatchesRepository;
  health: HealthRepository;
  sessions: SessionsRepository;
  ledger: UploadLedgerRepository;
  /** Stopped work across all collections (the admin's dead-letter list). */
  stoppedWork: StoppedWorkRepository;
  /** Volunteers' classifications, pull cursors and workflows (results loop). */
  classifications: ClassificationsRepository;
  /** Running reductions per subject (results loop). */
  reductions: ReductionsRepository;
  /** The PI's results rules and the reductions they read. */
  resultsRules: ResultsRulesRepository;
  /** The ledger of results-rule effects, each applied once. */
  resultEffects: ResultEffectsRepository;
  /** The PI's results listing (reductions with their images and effects). */
  resultsRead: ResultsReadRepository;
  /** Caesar endpoints (hashed secrets) and the reductions Caesar sent (optional results path). */
  caesarReductions: CaesarReductionsRepository;
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
}

/** A page of a keyset-paged listing; `next` is the cursor of the following page. */
export interface Page<T> {
  items: T[];
  next: string | null;
}
