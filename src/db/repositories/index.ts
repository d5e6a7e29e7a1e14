import type { Repositories } from '../../domain/ports/repositories.js';
import type { Db } from '../database.js';
import { artifactsRepository } from './artifacts.js';
import { auditRepository } from './audit.js';
import { batchesRepository } from './batches.js';
import { classificationsRepository } from './classifications.js';
import { collectionsRepository } from './collections.js';
import { delegationsRepository } from './delegations.js';
import { projectBindingsRepository } from './project-bindings.js';
import { reductionsRepository } from './reductions.js';
import { eventsRepository } from './events.js';
import { healthRepository } from './health.js';
import { imagesRepository } from './images.js';
import { sessionsRepository } from './sessions.js';
import { stoppedWorkRepository } from './stopped-work.js';
import { uploadBatchesRepository } from './upload-batches.js';
import { uploadLedgerRepository } from './upload-ledger.js';
import { resultsRulesRepository } from './results-rules.js';
import { resultEffectsRepository } from './result-effects.js';
import { resultsReadRepository } from './results-read.js';
import { caesarReductionsRepository } from './caesar-reductions.js';
import type { Tx } from './transitions.js';

/**
 * The domain's repositories on Kysely. Built once per process by its
 * composition root; `transaction` rebinds every repository to one database
 * transaction, and inside one simply joins it (Postgres has no nested
 * transactions, and the domain never needs a savepoint).
 */
export function createRepositories(db: Db): Repositories {
  return bind(db, false);
}

function bind(db: Tx, inTransaction: boolean): Repositories {
  const repos: Repositories = {
    collections: collectionsRepository(db),
    artifacts: artifactsRepository(db),
    images: imagesRepository(db),
    batches: batchesRepository(db),
    audit: auditRepository(db),
    events: eventsRepository(db),
    delegations: delegationsRepository(db),
    projectBindings: projectBindingsRepository(db),
    uploadBatches: uploadBatchesRepository(db),
    health: healthRepository(db),
    sessions: sessionsRepository(db),
    ledger: uploadLedgerRepository(db),
    stoppedWork: stoppedWorkRepository(db),
    classifications: classificationsRepository(db),
    reductions: reductionsRepository(db),
    resultsRules: resultsRulesRepository(db),
    resultEffects: resultEffectsRepository(db),
    resultsRead: resultsReadRepository(db),
    caesarReductions: caesarReductionsRepository(db),
    transaction: (fn) => (inTransaction ? fn(repos) : (db as Db).transaction().execute((tx) => fn(bind(tx, true)))),
  };
  return repos;
}
