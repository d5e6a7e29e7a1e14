import { ExportReadError, ExportRowError, readClassificationExportBatches, type RawClassification } from '../results/index.js';
import type { ClassificationCursor } from './ports/classifications-repository.js';
import type { ClassificationSource, ExportResource } from './ports/classification-source.js';
import type { Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';
import type { Collection } from './model.js';
import { ConflictError, UpstreamError, ValidationError } from './errors.js';
import { keepBridgeRows } from './results-classifications.js';

/**
 * The export backfill of one project (issue 14): the classifications made
 * before the bridge pulled (or that the pull could not see), from Panoptes'
 * classification export.
 *
 * Panoptes builds one export per project a day and silently cancels a
 * request inside that window; the adapter never sends one (it answers
 * 'rate_limited' or 'creating' with the time the next is possible), and
 * this file stores that state in words for the PI. A ready export not yet
 * loaded (its updatedAt differs from the one last loaded) is streamed
 * through the CSV reader without holding the file, only the bridge's
 * subjects kept, inserted in batches, each batch its own transaction and
 * idempotent by primary key: a failed load (a truncated download) is marked
 * failed, tried again later, and counts nothing twice.
 */

export interface ResultsBackfillDeps {
  repos: Repositories;
  source: ClassificationSource;
  clock: Clock;
  log: Logger;
  /** Classifications per insert transaction (default 2,000). */
  batchSize?: number;
}

/** The answer to "backfill this project": where the export stands, in words. */
export interface BackfillAnswer {
  projectId: string;
  /** requested | creating | ready | rate_limited (see ExportRequest) */
  state: string;
  nextPossibleAt: string | null;
  message: string;
}

export interface BackfillRun {
  projectId: string;
  /** none | creating | loaded | failed | up_to_date */
  state: string;
  /** Still being built: ask again after this long. */
  againInMs?: number;
  rows: number;
  kept: number;
  ignored: number;
  collections: string[];
  message: string;
}

/** How long a backfill job waits before looking at an export still being built. */
export const EXPORT_RECHECK_MS = 5 * 60_000;

const resource = (projectId: string): ExportResource => ({ kind: 'project', id: projectId });

/** An export newer than the one last loaded (any, when none was loaded). */
function notOlderThan(c: ClassificationCursor | undefined): string {
  const loaded = c?.exportLoadedUpdatedAt ? Date.parse(c.exportLoadedUpdatedAt) : NaN;
  return Number.isFinite(loaded) ? new Date(loaded + 1).toISOString() : new Date(0).toISOString();
}

/**
 * Asks Panoptes for a new export of the collection's project unless one
 * newer than the last loaded is ready or being built. Rate-limited: a
 * ConflictError naming when the next export is possible (nothing was sent).
 */
export async function requestBackfill(d: ResultsBackfillDeps, c: Pick<Collection, 'id' | 'zooniverse_project_id'>): Promise<BackfillAnswer> {
  const projectId = c.zooniverse_project_id;
  if (!projectId) throw new ValidationError('this collection has no Zooniverse project, so there is nothing to backfill', { field: 'zooniverse_project_id' });
  await d.repos.classifications.ensureCursor(projectId);
  const r = await d.source.requestExport(resource(projectId), { notOlderThan: notOlderThan(await d.repos.classifications.cursor(projectId)) });
  const next = new Date(r.nextPossibleAt);
  if (r.state === 'rate_limited') {
    await d.repos.classifications.updateExport(projectId, { nextPossibleAt: next });
    throw new ConflictError(`Panoptes allows one classification export of a project a day and made one at ${r.readyAt ?? 'an earlier time'}: the next export is possible from ${r.nextPossibleAt}.`, { nextPossibleAt: r.nextPossibleAt });
  }
  const state = r.state;
  await d.repos.classifications.updateExport(projectId, { state, nextPossibleAt: next, error: null, ...(r.requestedAt ? { requestedAt: r.requestedAt } : {}) });
  return { projectId, state, nextPossibleAt: r.nextPossibleAt, message: answerInWords(state, r.nextPossibleAt) };
}

function answerInWords(state: string, next: string): string {
  if (state === 'ready') return 'A classification export newer than the last one loaded is ready: it is being loaded.';
  if (state === 'creating') return `An export requested less than a day ago is still being built by Panoptes; it is loaded when ready. The next request is possible from ${next}.`;
  return `Panoptes is building the classification export (this can take hours); it is loaded when ready. The next request is possible from ${next}.`;
}

/** The backfill job: loads the ready export once, or says to look again while it is being built. */
export async function runBackfill(d: ResultsBackfillDeps, projectId: string): Promise<BackfillRun> {
  await d.repos.classifications.ensureCursor(projectId);
  const cur = (await d.repos.classifications.cursor(projectId))!;
  const status = await d.source.exportStatus(resource(projectId));
  const base = { projectId, rows: 0, kept: 0, ignored: 0, collections: [] as string[] };
  if (status.state === 'none') return { ...base, state: 'none', message: 'No classification export of this project exists yet.' };
  const waited = cur.exportRequestedAt;
  const answers = status.state === 'ready' && status.updatedAt !== null && (waited === null || Date.parse(status.updatedAt) >= Date.parse(waited));
  if (!answers) {
    await d.repos.classifications.updateExport(projectId, { state: 'creating', nextPossibleAt: new Date(status.nextPossibleAt) });
    return { ...base, state: 'creating', againInMs: EXPORT_RECHECK_MS, message: 'Panoptes is still building the export.' };
  }
  if (status.updatedAt === cur.exportLoadedUpdatedAt) return { ...base, state: 'up_to_date', message: 'The ready export was loaded already.' };
  return loadExport(d, projectId);
}

async function loadExport(d: ResultsBackfillDeps, projectId: string): Promise<BackfillRun> {
  const size = d.batchSize ?? 2000;
  await d.repos.classifications.updateExport(projectId, { state: 'loading', error: null });
  const run: BackfillRun = { projectId, state: 'loaded', rows: 0, kept: 0, ignored: 0, collections: [], message: '' };
  const collections = new Set<string>();
  let malformed = 0;
  let firstProblem: string | undefined;
  let pending: RawClassification[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const k = await keepBridgeRows(d.repos, projectId, pending, 'export');
    const done = await d.repos.transaction(async (tx) => {
      const ins = await tx.classifications.insert(k.rows);
      await tx.classifications.addKept(projectId, ins.ids.length);
      // Pulled earlier, these rows lack what only the export says (gold standard: SWAP's truth).
      const gold = [...new Set(k.rows.filter((r) => r.goldStandard === true).map((r) => r.id))];
      const expert = [...new Set(k.rows.filter((r) => r.expert === true).map((r) => r.id))];
      await tx.classifications.flagFromExport(gold, expert);
      return ins;
    });
    run.kept += done.ids.length;
    run.ignored += k.ignored;
    for (const c of done.collections) collections.add(c);
    pending = [];
  };
  let updatedAt: string;
  try {
    const stream = await d.source.openExport(resource(projectId));
    updatedAt = stream.updatedAt;
    const onError = (e: ExportRowError) => {
      malformed++;
      firstProblem ??= e.message;
    };
    for await (const batch of readClassificationExportBatches(stream, { onError, parse: { metadata: true, subjectData: true } })) {
      for (const c of batch) {
        run.rows++;
        pending.push(c);
        if (pending.length >= size) await flush();
      }
    }
    await flush();
  } catch (e) {
    const reason = loadErrorInWords(e);
    await d.repos.classifications.updateExport(projectId, { state: 'failed', error: reason });
    d.log.warn({ projectId, rows: run.rows, err: reason }, 'loading the classification export failed; it is tried again later');
    // What was stored stays (idempotent); the job's retry loads the rest.
    throw new UpstreamError(reason);
  }
  await d.repos.classifications.updateExport(projectId, { state: 'loaded', loadedUpdatedAt: updatedAt, rows: run.rows, error: malformed ? `${malformed} malformed row(s) skipped, the first: ${firstProblem}` : null });
  run.collections = [...collections].sort();
  run.message = `Loaded ${run.rows} classification(s) of the export: ${run.kept} new of the bridge's subjects, ${run.ignored} of other subjects ignored.`;
  return run;
}

function loadErrorInWords(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const cause = e instanceof ExportReadError && e.cause instanceof Error ? ` (${e.cause.message})` : '';
  return `The export could not be loaded: ${msg}${cause}`;
}

/** Where a collection's results come from and how far they are, for the PI page and GET /collections/{id}/results/status. */
export interface ResultsStatus {
  collectionId: string;
  projectId: string | null;
  pull: { lastId: string | null; pulledAt: string | null; lastError: string | null; kept: number; ignored: number } | null;
  export: { state: string; requestedAt: string | null; nextPossibleAt: string | null; loadedUpdatedAt: string | null; rows: number; error: string | null; message: string } | null;
  /** This collection's stored classifications and reduced subjects. */
  classifications: number;
  reducedSubjects: number;
  reducedSeq: string;
}

export async function resultsStatus(repos: Repositories, c: Pick<Collection, 'id' | 'zooniverse_project_id'>, clock: Clock): Promise<ResultsStatus> {
  const projectId = c.zooniverse_project_id;
  const cur = projectId ? await repos.classifications.cursor(projectId) : undefined;
  const counts = projectId ? await repos.classifications.countByCollection(projectId) : [];
  const progress = await repos.reductions.progress(c.id);
  return {
    collectionId: c.id,
    projectId,
    pull: cur ? { lastId: cur.lastId, pulledAt: cur.pulledAt?.toISOString() ?? null, lastError: cur.lastError, kept: cur.kept, ignored: cur.ignored } : null,
    export: cur
      ? {
          state: cur.exportState,
          requestedAt: cur.exportRequestedAt,
          nextPossibleAt: cur.exportNextPossibleAt?.toISOString() ?? null,
          loadedUpdatedAt: cur.exportLoadedUpdatedAt,
          rows: cur.exportRows,
          error: cur.exportError,
          message: exportInWords(cur, clock.now()),
        }
      : null,
    classifications: counts.find((x) => x.collectionId === c.id)?.classifications ?? 0,
    reducedSubjects: await repos.reductions.count(c.id),
    reducedSeq: progress?.reducedSeq ?? '0',
  };
}

function exportInWords(c: ClassificationCursor, now: Date): string {
  const next = c.exportNextPossibleAt;
  const when = next && next > now ? ` The next export is possible from ${next.toISOString()}.` : ' A new export can be requested now.';
  switch (c.exportState) {
    case 'none':
      return 'No export backfill asked for yet.' + when;
    case 'requested':
    case 'creating':
      return 'Panoptes is building the classification export; it is loaded when ready.' + when;
    case 'ready':
    case 'loading':
      return 'The classification export is being loaded.';
    case 'loaded':
      return `The export made at ${c.exportLoadedUpdatedAt} was loaded (${c.exportRows} rows).` + when;
    case 'failed':
      return `Loading the export failed and is tried again: ${c.exportError ?? 'no reason recorded'}.`;
    default:
      return `Export: ${c.exportState}.` + when;
  }
}
