import { setTimeout as delay } from 'node:timers/promises';
import type { PanoptesClient } from './ports/panoptes-client.js';
import type { Clock } from './ports/clock.js';
import type { Lock } from './ports/lock.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import type { Repositories } from './ports/repositories.js';

/** What uploading (and retracting) a batch is given. */
export interface UploadDeps {
  repos: Repositories;
  /** Keeps one run per batch at a time, in this process and across workers. */
  lock: Lock;
  panoptes: PanoptesClient;
  /** Where the batch's manifests are (the public area). */
  store: ObjectStore;
  log: Logger;
  /** Time for the rules that depend on it (when a found import counts as long dead). Default: the system clock. */
  clock?: Clock;
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
  /** The longest interval between looks at an import's progress (the first comes after a second, then it doubles). */
  importPollMs: number;
  /** An import without any change for importStallPolls x importPollMs is declared stalled. */
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

/** The tuning in force: the defaults with the caller's overrides. */
export function tuningOf(d: Pick<UploadDeps, 'tuning'>): UploadTuning {
  return { ...DEFAULTS, ...d.tuning };
}
