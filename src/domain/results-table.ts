import type { Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ResultsCursor, ResultsFilter, ResultsOrder, SeenTask, StoredResult } from './ports/results-read-repository.js';
import { isAdmin, type Caller } from './caller.js';
import { ForbiddenError, ValidationError } from './errors.js';
import { imageNames } from './image-name.js';

/**
 * The PI's results, one row per Zooniverse subject, keyed by the PI's Rubin
 * object id (from their extra-metadata table, as image names read it): the
 * collection, datasets, stamp, the private position, the subject's
 * reduction per task (counts, fractions, consensus, evenness, survey
 * choices, clusters with their sky position), SWAP, and whether a rule
 * retired or flagged it. The rows carry RA/Dec, so only the collection's
 * owner, a PI an admin delegated its prefix to, and admins may read them:
 * reviewers (who otherwise see every collection) are refused. Nothing here
 * is ever public. The API, the downloads and the CLI all read through here.
 */

/** One task's reduction as src/results gives it (QuestionReduction, SurveyReduction or DrawingReduction as JSON). */
export type TaskResult = Record<string, unknown> & { kind: string; classifications?: number };

export interface ResultRow {
  objectId: string | null;
  collection: string;
  collectionId: string;
  datasetIds: string[];
  stampIndex: number;
  ra: number | null;
  dec: number | null;
  imageId: string;
  subjectId: string;
  workflowId: string;
  classifications: number;
  tasks: Record<string, TaskResult>;
  swap: { probability: number; status: string; classifications: number; yesFraction: number | null } | null;
  retired: boolean;
  retiredReason: string | null;
  flags: string[];
  /** Caesar's own reductions of this subject in this workflow, by reducer key, when the project sends them (caesar-intake.ts); {} otherwise. */
  caesar: Record<string, unknown>;
}

/** A row and the quarantine key of its image (the API signs a thumbnail URL from it; never shown as such). */
export interface ResultItem {
  row: ResultRow;
  quarantineKey: string;
}

export interface ResultsPage {
  items: ResultItem[];
  /** Cursor of the next page, null on the last. */
  next: string | null;
  total: number;
}

export interface ResultsListing extends ResultsFilter {
  order?: ResultsOrder;
  cursor?: string;
  limit?: number;
}

export const MAX_RESULTS_PAGE = 500;

/** The collection, if the caller may read its results: owner, delegate of its prefix, or admin. */
export async function resultsCollection(repos: Repositories, who: Caller, id: string): Promise<Collection> {
  const c = await repos.collections.get(id);
  if (c.owner === who.username || isAdmin(who)) return c;
  if (who.roles.includes('pi')) {
    const prefixes = await repos.delegations.prefixesOf(who.username);
    if (prefixes.some((p) => c.name.startsWith(p))) return c;
  }
  throw new ForbiddenError('only the owner, a PI the collection is delegated to, or an admin can read its results (they include private positions)');
}

export function encodeCursor(c: ResultsCursor): string {
  return Buffer.from(JSON.stringify([c.agreement, c.workflowId, c.subjectId]), 'utf8').toString('base64url');
}

export function decodeCursor(s: string): ResultsCursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && (v[0] === null || typeof v[0] === 'number') && typeof v[1] === 'string' && typeof v[2] === 'string') return { agreement: v[0], workflowId: v[1], subjectId: v[2] };
  } catch {
    // fall through: one message for every bad cursor
  }
  throw new ValidationError('cursor: not a cursor this listing gave out (start again without it)', { field: 'cursor' });
}

function checkFilter(f: ResultsFilter): void {
  for (const [k, v] of [['minAgreement', f.minAgreement], ['maxAgreement', f.maxAgreement]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1)) throw new ValidationError(`${k}: must be a number from 0 to 1`, { field: k });
  }
  if (f.minAgreement !== undefined && f.maxAgreement !== undefined && f.minAgreement > f.maxAgreement) throw new ValidationError('minAgreement is above maxAgreement: no subject can match', { field: 'minAgreement' });
}

/** One page of the collection's results (the caller already checked with resultsCollection). */
export async function resultsPage(repos: Repositories, c: Collection, q: ResultsListing): Promise<ResultsPage> {
  checkFilter(q);
  const limit = Math.min(Math.max(1, q.limit ?? 100), MAX_RESULTS_PAGE);
  const order = q.order ?? 'subject';
  const filter: ResultsFilter = { task: q.task, answer: q.answer, minAgreement: q.minAgreement, maxAgreement: q.maxAgreement, retired: q.retired, flagged: q.flagged };
  const [stored, total] = await Promise.all([
    repos.resultsRead.page({ ...filter, collectionId: c.id, order, after: q.cursor ? decodeCursor(q.cursor) : undefined, limit: limit + 1 }),
    repos.resultsRead.count(c.id, filter),
  ]);
  const rows = stored.slice(0, limit);
  const last = rows.at(-1);
  return {
    items: await toItems(repos, c, rows),
    next: stored.length > limit && last ? encodeCursor({ agreement: last.sortAgreement, workflowId: last.workflowId, subjectId: last.subjectId }) : null,
    total,
  };
}

/** Every result matching the filter, a page at a time (downloads and the CLI): memory stays at one page. */
export async function* allResults(repos: Repositories, c: Collection, f: ResultsFilter = {}, pageSize = MAX_RESULTS_PAGE): AsyncGenerator<ResultItem[]> {
  let cursor: string | undefined;
  do {
    const p = await resultsPage(repos, c, { ...f, order: 'subject', cursor, limit: pageSize });
    if (p.items.length) yield p.items;
    cursor = p.next ?? undefined;
  } while (cursor);
}

async function toItems(repos: Repositories, c: Collection, rows: StoredResult[]): Promise<ResultItem[]> {
  if (!rows.length) return [];
  const ids = [...new Set(rows.map((r) => r.imageId))];
  const named = rows.map((r) => ({ id: r.imageId, collection_id: c.id, group_key: r.groupKey, stamp_index: r.stampIndex, bands: r.bands }));
  const [names, datasets, caesar] = await Promise.all([imageNames(repos, named), repos.images.datasetIds(ids), repos.caesarReductions.ofSubjects(c.id, [...new Set(rows.map((r) => r.subjectId))])]);
  const caesarOf = new Map<string, Record<string, unknown>>();
  for (const x of caesar) {
    const key = `${x.workflowId}/${x.subjectId}`;
    const m = caesarOf.get(key) ?? {};
    m[x.reducerKey] = x.data;
    caesarOf.set(key, m);
  }
  return rows.map((r) => ({
    row: { ...toRow(c, r, names.get(r.imageId)?.objectId ?? null, datasets.get(r.imageId) ?? []), caesar: caesarOf.get(`${r.workflowId}/${r.subjectId}`) ?? {} },
    quarantineKey: r.quarantineKey,
  }));
}

function toRow(c: Collection, r: StoredResult, objectId: string | null, datasetIds: string[]): Omit<ResultRow, 'caesar'> {
  const tasks = (isRecord(r.result.tasks) ? r.result.tasks : {}) as Record<string, TaskResult>;
  const swap = isRecord(r.result.swap) ? r.result.swap : null;
  return {
    objectId,
    collection: c.name,
    collectionId: c.id,
    datasetIds: [...datasetIds].sort(),
    stampIndex: r.stampIndex,
    ra: r.ra,
    dec: r.dec,
    imageId: r.imageId,
    subjectId: r.subjectId,
    workflowId: r.workflowId,
    classifications: r.classifications,
    tasks,
    swap: swap
      ? { probability: Number(swap.probability), status: String(swap.status), classifications: Number(swap.classifications ?? 0), yesFraction: typeof swap.yes_fraction === 'number' ? swap.yes_fraction : null }
      : r.swapProbability !== null
        ? { probability: r.swapProbability, status: 'undecided', classifications: 0, yesFraction: null }
        : null,
    retired: r.retiredReason !== null,
    retiredReason: r.retiredReason,
    flags: r.flags,
  };
}

export interface ColumnTask {
  task: string;
  kind: string;
  labels: string[];
}

const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});

/** The tasks of a collection's results, labels in the workflow's order first. */
export async function columnTasks(repos: Repositories, collectionId: string): Promise<ColumnTask[]> {
  const [seen, workflows] = await Promise.all([repos.resultsRead.seenTasks(collectionId), repos.resultsRead.workflowTasks(collectionId)]);
  return seen.map((t: SeenTask) => {
    const ordered: string[] = [];
    for (const w of workflows) {
      const def = rec(w.tasks[t.task]);
      if (t.kind === 'question' && Array.isArray(def.answers)) for (const a of def.answers) if (typeof rec(a).label === 'string') ordered.push(rec(a).label as string);
      if (t.kind === 'survey') for (const k of Object.keys(rec(def.choices))) ordered.push(k);
    }
    const labels = [...new Set([...ordered, ...t.labels])];
    return { task: t.task, kind: t.kind, labels: t.kind === 'drawing' ? [] : labels };
  });
}

/** What the results page shows above the rows: the tasks with their answers, and a histogram of agreement over the filtered set. */
export interface ResultsSummary {
  tasks: ColumnTask[];
  histogram: { bins: { from: number; to: number; count: number }[]; none: number };
}

export async function resultsSummary(repos: Repositories, c: Collection, f: ResultsFilter = {}, bins = 10): Promise<ResultsSummary> {
  checkFilter(f);
  const [tasks, h] = await Promise.all([columnTasks(repos, c.id), repos.resultsRead.agreementHistogram(c.id, f, bins)]);
  return { tasks, histogram: { bins: h.counts.map((count, i) => ({ from: i / bins, to: (i + 1) / bins, count })), none: h.none } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
