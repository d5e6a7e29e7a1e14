import { createHash } from 'node:crypto';
import { RunningReducer, compareIds, extractClassification, subjectKey, type QuestionReduction, type RawClassification, type ReduceOptions, type RunningState, type SubjectReduction, type SubjectState, type WorkflowTasks } from '../results/index.js';
import type { StoredClassification } from './ports/classifications-repository.js';
import type { Logger } from './ports/logger.js';
import type { StoredReduction } from './ports/reductions-repository.js';
import type { Repositories } from './ports/repositories.js';
import { toRaw } from './results-classifications.js';

/**
 * Reducing one collection's classifications (issue 14), incrementally.
 *
 * A run reads what arrived after the collection's reduced_seq, in arrival
 * order and bounded chunks, loads only the touched subjects' stored states
 * into a RunningReducer, applies the arrivals, and writes the states, the
 * reductions, their summary columns and the new reduced_seq in ONE
 * transaction per chunk: a crash re-reads the chunk from the old seq and
 * nothing is applied twice.
 *
 * The running reducer must see a subject's classifications in id order.
 * The pull delivers them so; an export backfill does not (it brings old
 * classifications after newer pulled ones). An arrival below a subject's
 * through_id therefore rebuilds that subject from all its stored
 * classifications in id order. With SWAP the volunteers' skills are shared
 * by every subject, so an arrival below the collection's highest applied id
 * recomputes the whole collection instead.
 *
 * The options (repeats, DBSCAN, SWAP, the workflow's tasks, the gold
 * subjects) are digested; stored states built with other options are
 * thrown away by a full recompute, which gives the same numbers as the
 * incremental path (tested).
 *
 * One `results_updated` event per run that changed something, written with
 * the last chunk (counts only: no coordinates, no volunteers).
 */

/** The `reduce` part of a collection's results rules (src/domain/results-rules.ts parses it). */
export interface ReduceSettings {
  repeats: 'first' | 'last' | 'all';
  dbscan?: { eps?: number; minSamples?: number };
  swap?: { task: string; yes: string; no: string; prior?: number; detect?: number; reject?: number };
}

/** ReduceSettings with the rules file's optional workflow: only that workflow's classifications are reduced. */
export type CollectionReduceSettings = ReduceSettings & { workflow?: string };

export interface ResultsReduceDeps {
  repos: Repositories;
  /** The collection's reduce settings; null: defaults (repeats 'first', every workflow). */
  settingsFor(collectionId: string): Promise<CollectionReduceSettings | null>;
  log?: Logger;
  /** Arrivals per chunk (default 5,000). */
  chunkSize?: number;
}

export interface ReduceReport {
  collectionId: string;
  /** Arrivals read (a full recompute: every classification). */
  classifications: number;
  /** Subjects whose reduction was written. */
  subjects: number;
  full: boolean;
  reducedSeq: string;
}

export const RESULTS_UPDATED = 'results_updated' as const;

/** Subjects rebuilt one by one in a chunk before a full recompute is cheaper. */
const REBUILD_LIMIT = 100;

interface Prepared {
  options: ReduceOptions;
  digest: string;
  workflow?: string;
  tasks: Record<string, WorkflowTasks>;
  swap: boolean;
}

/** Applies what arrived since the last run; a full recompute when the options changed or SWAP met an old arrival. */
export async function reduceCollection(d: ResultsReduceDeps, collectionId: string): Promise<ReduceReport> {
  const p = await prepare(d, collectionId);
  const progress = await d.repos.reductions.progress(collectionId);
  if (progress && progress.optionsDigest !== p.digest) return recomputeWith(d, collectionId, p);
  const chunk = d.chunkSize ?? 5000;
  let seq = progress?.reducedSeq ?? '0';
  let swapVolunteers = (progress?.swapVolunteers ?? {}) as RunningState['swapVolunteers'];
  let maxThrough = p.swap ? await d.repos.reductions.maxThroughId(collectionId) : null;
  const report: ReduceReport = { collectionId, classifications: 0, subjects: 0, full: false, reducedSeq: seq };
  const changed = new Set<string>();
  for (;;) {
    const got = await d.repos.classifications.arrivals(collectionId, seq, chunk + 1);
    if (got.length === 0) break;
    const last = got.length <= chunk;
    const rows = got.slice(0, chunk);
    const lastSeq = rows[rows.length - 1].seq;
    const mine = rows.filter((r) => p.workflow === undefined || r.workflowId === p.workflow);
    if (p.swap && maxThrough !== null && mine.some((r) => compareIds(r.id, maxThrough!) <= 0)) {
      d.log?.info({ collectionId }, 'an older classification arrived under SWAP: recomputing the whole collection');
      return recomputeWith(d, collectionId, p);
    }
    const keys = [...new Set(mine.map((r) => subjectKey(r.workflowId, r.subjectId)))].map(splitKey);
    const stored = new Map((await d.repos.reductions.states(collectionId, keys)).map((s) => [subjectKey(s.workflowId, s.subjectId), s]));
    // Subjects an arrival reaches below what they already hold: rebuilt from their whole history, in id order.
    const rebuild = new Set<string>();
    for (const r of mine) {
      const s = stored.get(subjectKey(r.workflowId, r.subjectId));
      if (s && compareIds(r.id, s.throughId) <= 0) rebuild.add(subjectKey(r.workflowId, r.subjectId));
    }
    // An export landing on pulled data reaches most subjects below their through_id, chunk after chunk:
    // rebuilding them each time would read their histories over and over; one recompute reads everything once.
    if (rebuild.size > Math.max(REBUILD_LIMIT, chunk / 10)) {
      d.log?.info({ collectionId, rebuild: rebuild.size }, 'many older classifications arrived: recomputing the whole collection');
      return recomputeWith(d, collectionId, p);
    }
    const state: RunningState = { version: 1, repeats: p.options.repeats ?? 'first', subjects: {}, swapVolunteers, totals: { classifications: 0, repeats: 0, stale: 0, skipped: 0, reasons: {} } };
    for (const [k, s] of stored) if (!rebuild.has(k)) state.subjects[k] = s.state as unknown as SubjectState;
    // The rows were read for this reducer alone: it takes their states as they are, without a copy.
    const reducer = RunningReducer.adopt(state, p.options);
    const through = new Map<string, string>();
    const images = new Map<string, string>();
    const note = (r: StoredClassification) => {
      const k = subjectKey(r.workflowId, r.subjectId);
      images.set(k, r.imageId);
      const t = through.get(k);
      if (t === undefined || compareIds(r.id, t) > 0) through.set(k, r.id);
    };
    for (const [k, s] of stored) if (!rebuild.has(k)) through.set(k, s.throughId);
    if (rebuild.size > 0) {
      const history = await d.repos.classifications.ofSubjects(collectionId, [...rebuild].map(splitKey));
      for (const r of history) {
        if (compareIds(r.seq, lastSeq) > 0) continue; // a later chunk brings it
        reducer.feed(toRaw(r));
        note(r);
      }
    }
    for (const r of mine) {
      if (rebuild.has(subjectKey(r.workflowId, r.subjectId))) continue;
      reducer.feed(toRaw(r));
      note(r);
    }
    // Every subject an arrival reached is written, changed or not (a repeat the rule drops still moves through_id).
    const dirty = new Set([...reducer.takeDirty(), ...rebuild, ...images.keys()].filter((k) => reducer.state.subjects[k] !== undefined));
    const out = [...dirty].map((k) => reductionRow(reducer, k, collectionId, images.get(k) ?? stored.get(k)!.imageId, through.get(k)!, p));
    swapVolunteers = reducer.state.swapVolunteers;
    for (const k of dirty) changed.add(k);
    report.classifications += rows.length;
    report.reducedSeq = lastSeq;
    if (p.swap) for (const t of through.values()) if (maxThrough === null || compareIds(t, maxThrough) > 0) maxThrough = t;
    await d.repos.transaction(async (tx) => {
      await tx.reductions.upsert(out);
      await tx.reductions.saveProgress(collectionId, { reducedSeq: lastSeq, swapVolunteers: p.swap ? (swapVolunteers as Record<string, unknown>) : null, optionsDigest: p.digest });
      if (last && changed.size > 0) await tx.events.record(collectionId, RESULTS_UPDATED, { classifications: report.classifications, subjects: changed.size, full: false });
    });
    seq = lastSeq;
    if (last) break;
  }
  // First run with nothing to reduce: remember the options, so a later change of them is seen.
  if (!progress && report.classifications === 0) await d.repos.reductions.saveProgress(collectionId, { reducedSeq: '0', swapVolunteers: null, optionsDigest: p.digest });
  report.subjects = changed.size;
  return report;
}

/** Throws away the collection's reductions and reduces every stored classification again, in id order. */
export async function recomputeCollection(d: ResultsReduceDeps, collectionId: string): Promise<ReduceReport> {
  return recomputeWith(d, collectionId, await prepare(d, collectionId));
}

async function recomputeWith(d: ResultsReduceDeps, collectionId: string, p: Prepared): Promise<ReduceReport> {
  const chunk = d.chunkSize ?? 5000;
  const throughSeq = await d.repos.classifications.lastSeq(collectionId);
  const reducer = new RunningReducer(p.options);
  const through = new Map<string, string>();
  const images = new Map<string, string>();
  let after: { id: string; subjectId: string } | null = null;
  let n = 0;
  for (;;) {
    const rows = await d.repos.classifications.inIdOrder(collectionId, after, throughSeq, chunk);
    if (rows.length === 0) break;
    for (const r of rows) {
      n++;
      if (p.workflow !== undefined && r.workflowId !== p.workflow) continue;
      reducer.feed(toRaw(r));
      const k = subjectKey(r.workflowId, r.subjectId);
      images.set(k, r.imageId);
      through.set(k, r.id); // id order: the last one is the highest
    }
    const end: StoredClassification = rows[rows.length - 1];
    after = { id: end.id, subjectId: end.subjectId };
    if (rows.length < chunk) break;
  }
  const keys = reducer.subjectKeys();
  const out = keys.map((k) => reductionRow(reducer, k, collectionId, images.get(k)!, through.get(k)!, p));
  await d.repos.transaction(async (tx) => {
    await tx.reductions.clear(collectionId);
    await tx.reductions.upsert(out);
    await tx.reductions.saveProgress(collectionId, { reducedSeq: throughSeq, swapVolunteers: p.swap ? (reducer.state.swapVolunteers as Record<string, unknown>) : null, optionsDigest: p.digest }, { recomputed: true });
    if (out.length > 0) await tx.events.record(collectionId, RESULTS_UPDATED, { classifications: n, subjects: out.length, full: true });
  });
  return { collectionId, classifications: n, subjects: out.length, full: true, reducedSeq: throughSeq };
}

async function prepare(d: ResultsReduceDeps, collectionId: string): Promise<Prepared> {
  const s = (await d.settingsFor(collectionId)) ?? { repeats: 'first' as const };
  const workflowIds = await d.repos.classifications.workflowsOfCollection(collectionId);
  const tasks: Record<string, WorkflowTasks> = {};
  for (const w of await d.repos.classifications.workflows(workflowIds)) tasks[w.workflowId] = w.tasks as WorkflowTasks;
  const options: ReduceOptions = { workflows: tasks, repeats: s.repeats ?? 'first' };
  if (s.dbscan) options.dbscan = { ...s.dbscan };
  let gold: [string, boolean][] = [];
  if (s.swap) {
    gold = goldTruths(await d.repos.classifications.gold(collectionId), s.swap, tasks);
    const truth = new Map(gold);
    options.swap = { ...s.swap, ...(s.workflow !== undefined ? { workflowId: s.workflow } : {}), goldTruth: (subjectId) => truth.get(subjectId) };
  }
  const digest = createHash('sha256')
    .update(JSON.stringify({ repeats: options.repeats, dbscan: s.dbscan ?? null, swap: s.swap ?? null, workflow: s.workflow ?? null, tasks: Object.keys(tasks).sort().map((k) => [k, tasks[k]]), gold }))
    .digest('hex');
  return { options, digest, workflow: s.workflow, tasks, swap: !!s.swap };
}

/**
 * Whether the collection's stored reductions were made with these reduce
 * settings (repeats, DBSCAN, SWAP, workflow; the workflows' tasks and gold
 * answers as stored now). False while a change of settings waits for its
 * recompute, or when a recompute was asked for; true when nothing is reduced
 * yet (there is nothing stale to read).
 */
export async function reductionsMadeWith(repos: Repositories, collectionId: string, settings: CollectionReduceSettings | null): Promise<boolean> {
  const progress = await repos.reductions.progress(collectionId);
  if (!progress || (await repos.reductions.count(collectionId)) === 0) return true;
  const p = await prepare({ repos, settingsFor: async () => settings }, collectionId);
  return progress.optionsDigest === p.digest;
}

/**
 * Gold-standard subjects and their truth: a classification flagged
 * gold_standard marks its subject as gold, its answer to the SWAP task says
 * yes (true) or no (false). The first gold answer of a subject counts.
 */
export function goldTruths(gold: StoredClassification[], swap: NonNullable<ReduceSettings['swap']>, tasks: Record<string, WorkflowTasks>): [string, boolean][] {
  const out = new Map<string, boolean>();
  for (const g of gold) {
    if (out.has(g.subjectId)) continue;
    const raw: RawClassification = toRaw(g);
    for (const e of extractClassification(raw, { tasks: tasks[g.workflowId] }).extracts) {
      if (e.kind !== 'question' || e.task !== swap.task) continue;
      if (e.answers.includes(swap.yes)) out.set(g.subjectId, true);
      else if (e.answers.includes(swap.no)) out.set(g.subjectId, false);
    }
  }
  return [...out].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function reductionRow(reducer: RunningReducer, key: string, collectionId: string, imageId: string, throughId: string, p: Prepared): StoredReduction {
  const s = reducer.state.subjects[key];
  const result = reducer.reduction(key)!;
  const task = firstQuestionTask(result, p.tasks[s.workflowId]);
  const q = task ? (result.tasks[task] as QuestionReduction) : undefined;
  return {
    workflowId: s.workflowId,
    subjectId: s.subjectId,
    collectionId,
    imageId,
    // The repository serialises both (KeptVolunteers writes itself as its flat list); nothing changes them meanwhile.
    state: s as unknown as Record<string, unknown>,
    result: result as unknown as Record<string, unknown>,
    classifications: s.n,
    throughId,
    task: task ?? null,
    mostLikely: q?.consensus.most_likely ?? null,
    agreement: q && q.classifications > 0 ? q.consensus.agreement : null,
    swapProbability: result.swap?.probability ?? null,
  };
}

/** The first question task of the subject's reduction: in the workflow's task order when known, else by task key. */
export function firstQuestionTask(r: SubjectReduction, tasks: WorkflowTasks | undefined): string | undefined {
  const questions = Object.keys(r.tasks).filter((t) => r.tasks[t].kind === 'question');
  if (questions.length === 0) return undefined;
  if (tasks) for (const t of Object.keys(tasks)) if (questions.includes(t)) return t;
  return questions.sort()[0];
}

function splitKey(k: string): { workflowId: string; subjectId: string } {
  const i = k.indexOf('/');
  return { workflowId: k.slice(0, i), subjectId: k.slice(i + 1) };
}
