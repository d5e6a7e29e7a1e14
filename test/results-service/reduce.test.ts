import { afterEach, describe, expect, it, vi } from 'vitest';
import { keepBridgeRows } from '../../src/domain/results-classifications.js';
import { pullProject } from '../../src/domain/results-pull.js';
import { reduceCollection, recomputeCollection, type CollectionReduceSettings, type ResultsReduceDeps } from '../../src/domain/results-reduce.js';
import { requestRecompute } from '../../src/domain/results-recompute.js';
import { dryRunResultRules } from '../../src/domain/results-evaluate.js';
import { reduceAll, subjectKey } from '../../src/results/index.js';
import type { RawClassification } from '../../src/results/types.js';
import { TASKS, WORKFLOW_ID, generateClassifications } from '../support/classifications.js';
import { DB_KINDS } from '../support/databases.js';
import { deps, resultsWorld, seedOf, type ResultsWorld } from './harness.js';

// PGlite's migrations alone take seconds on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

/*
 * The running reduction of a collection: incremental runs (in small chunks,
 * between pulls, with exports arriving out of id order) give exactly what a
 * full recompute gives, and what the results library's batch reduceAll
 * gives for the same classifications.
 */

describe.each(DB_KINDS)('results reduction (%s)', (kind) => {
  let w: ResultsWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  const reduceDeps = (x: ResultsWorld, settings: CollectionReduceSettings | null = null, chunkSize = 7): ResultsReduceDeps => ({ repos: x.repos, settingsFor: async () => settings, chunkSize });
  const snapshot = async (x: ResultsWorld) =>
    (await x.repos.reductions.list(x.collectionId, { limit: 10_000 })).map((r) => ({ key: subjectKey(r.workflowId, r.subjectId), result: r.result, n: r.classifications, through: r.throughId, task: r.task, mostLikely: r.mostLikely, agreement: r.agreement, swap: r.swapProbability, image: r.imageId }));
  const events = async (x: ResultsWorld) => x.t.db.selectFrom('events').select(['kind', 'payload']).where('collection_id', '=', x.collectionId).where('kind', '=', 'results_updated').orderBy('id').execute();

  it('pulled in pages and reduced incrementally in chunks equals a full recompute and reduceAll, with labels and one event per run', async () => {
    w = await resultsWorld(kind, 8);
    const gen = [...generateClassifications({ seed: 11, subjects: 8, perSubject: 6, volunteers: 12, anonymous: 0.2, repeats: 0.2 })];
    const seeded = w.server.addClassifications(gen.map((c) => seedOf(c)));
    const d = reduceDeps(w);
    // Three pulls and reductions, as the schedule would run them.
    let applied = 0;
    for (const part of [1, 2, 3]) {
      const r = await pullProject(deps(w), '1', { pageSize: 5, maxPages: part === 3 ? 100 : 4 });
      expect(r.collections).toEqual([w.collectionId]);
      const red = await reduceCollection(d, w.collectionId);
      expect(red.full).toBe(false);
      applied += red.classifications;
    }
    expect(applied).toBe(seeded.length);
    const incremental = await snapshot(w);
    expect(incremental.length).toBe(8);
    const ev = await events(w);
    expect(ev.length).toBe(3);
    expect(ev.reduce((s, e) => s + Number((e.payload as { classifications: number }).classifications), 0)).toBe(seeded.length);
    expect(JSON.stringify(ev)).not.toMatch(/"x"|"y"|ra|dec/);
    // Labels, not indices: the workflow's tasks were fetched with the pull.
    const first = incremental[0];
    expect(first.task).toBe('T0');
    expect(['Yes', 'No', 'Not sure']).toContain(first.mostLikely);
    expect(first.image).toBe(w.imageOf.get(first.key.split('/')[1]));

    // Nothing new: no event, nothing written.
    expect((await reduceCollection(d, w.collectionId)).classifications).toBe(0);
    expect((await events(w)).length).toBe(3);

    const full = await recomputeCollection(d, w.collectionId);
    expect(full.full).toBe(true);
    expect(await snapshot(w)).toEqual(incremental);

    // The library's batch reduction of the same classifications (as stored: the double's ids).
    const raws: RawClassification[] = seeded.map((c) => ({ id: c.id, workflowId: c.workflowId, userId: c.userId, userName: null, createdAt: c.createdAt, subjectIds: c.subjectIds, annotations: c.annotations }));
    const batch = reduceAll(raws, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'first' });
    for (const s of incremental) expect(s.result).toEqual(JSON.parse(JSON.stringify(batch.subjects.find((b) => subjectKey(b.workflowId, b.subjectId) === s.key))));
  });

  it('a requested recompute rebuilds damaged reductions on the next run, survives an incremental run already going, and is audited', async () => {
    w = await resultsWorld(kind, 4);
    w.server.addClassifications([...generateClassifications({ seed: 12, subjects: 4, perSubject: 5, volunteers: 10 })].map((c) => seedOf(c)));
    await pullProject(deps(w), '1', { pageSize: 50 });
    const d = reduceDeps(w);
    await reduceCollection(d, w.collectionId);
    const good = await snapshot(w);
    // Damage one subject's stored numbers, as a bug fixed since would have left them.
    await w.t.db.updateTable('reductions').set({ classifications: 999 }).where('collection_id', '=', w.collectionId).where('subject_id', '=', good[0].key.split('/')[1]).execute();
    // An incremental run that started before the request saves its progress after it: the mark must survive that save.
    const progress = (await w.repos.reductions.progress(w.collectionId))!;
    await requestRecompute({ repos: w.repos }, 'cli:ops', { id: w.collectionId, name: 'the collection' });
    await w.repos.reductions.saveProgress(w.collectionId, progress);
    expect(await w.repos.reductions.behind(new Date(Date.now() + 1000), 10)).toContain(w.collectionId);
    const r = await reduceCollection(d, w.collectionId);
    expect(r.full).toBe(true);
    expect(await snapshot(w)).toEqual(good);
    expect(await w.repos.reductions.behind(new Date(Date.now() + 1000), 10)).not.toContain(w.collectionId);
    expect((await reduceCollection(d, w.collectionId)).full).toBe(false);
    const audit = await w.t.db.selectFrom('audit_log').select(['actor', 'action']).where('collection_id', '=', w.collectionId).where('action', '=', 'results_recompute').execute();
    expect(audit).toEqual([{ actor: 'cli:ops', action: 'results_recompute' }]);
  });

  it("a dry run says when the reductions it reads were made with other reduce settings than the rules'", async () => {
    w = await resultsWorld(kind, 3);
    w.server.addClassifications([...generateClassifications({ seed: 13, subjects: 3, perSubject: 4, volunteers: 8 })].map((c) => seedOf(c)));
    await pullProject(deps(w), '1', { pageSize: 50 });
    await reduceCollection(reduceDeps(w), w.collectionId);
    const file = (reduce: string) => `name: t\nversion: "1"\n${reduce}rules:\n  - id: r\n    task: T0\n    condition: [gte, [lookup, classifications, 0], [const, 1]]\n    effects:\n      - flag: { label: seen }\n`;
    const same = await dryRunResultRules({ repos: w.repos }, w.collectionId, file(''));
    expect(same.warnings.join(' ')).not.toMatch(/other reduce settings/);
    const other = await dryRunResultRules({ repos: w.repos }, w.collectionId, file('reduce:\n  repeats: last\n'));
    expect(other.warnings.join(' ')).toMatch(/made with other reduce settings than this file's/);
    expect(other.subjectsEvaluated).toBe(3);
  });

  it('an export arriving out of id order rebuilds the subjects it reaches; a settings change recomputes everything', async () => {
    w = await resultsWorld(kind, 6);
    const gen = [...generateClassifications({ seed: 21, subjects: 6, perSubject: 8, volunteers: 12, repeats: 0.25 })];
    await w.repos.classifications.saveWorkflow({ workflowId: WORKFLOW_ID, projectId: '1', version: '12.3', displayName: 'Mergers', tasks: TASKS as Record<string, unknown> });
    const d = reduceDeps(w, null, 5);
    // Newer classifications first (pulled), then the older half (an export), in two deliveries.
    const half = Math.floor(gen.length / 2);
    for (const part of [gen.slice(half), gen.slice(0, half).reverse()]) {
      const k = await keepBridgeRows(w.repos, '1', part, 'export');
      await w.repos.classifications.insert(k.rows);
      await reduceCollection(d, w.collectionId);
    }
    const incremental = await snapshot(w);
    // Nothing left behind for the sweep to re-queue; a new arrival is, once its reduction has been still a while.
    const later = new Date(Date.now() + 60_000);
    expect(await w.repos.reductions.behind(later, 10)).toEqual([]);
    await recomputeCollection(d, w.collectionId);
    expect(await snapshot(w)).toEqual(incremental);
    const extra = (await keepBridgeRows(w.repos, '1', [{ ...gen[0], id: '999999999', userId: '4242' }], 'pull')).rows;
    await w.repos.classifications.insert(extra);
    expect(await w.repos.reductions.behind(later, 10)).toEqual([w.collectionId]);
    expect(await w.repos.reductions.behind(new Date(Date.now() - 60_000), 10)).toEqual([]);
    await reduceCollection(d, w.collectionId);
    expect(await w.repos.reductions.behind(later, 10)).toEqual([]);
    await w.t.db.deleteFrom('classifications').where('id', '=', '999999999').execute();
    await recomputeCollection(d, w.collectionId);
    const batch = reduceAll(gen, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'first' });
    for (const s of incremental) expect(s.result).toEqual(JSON.parse(JSON.stringify(batch.subjects.find((b) => subjectKey(b.workflowId, b.subjectId) === s.key))));

    // Repeats 'all' from now on: the stored states are of other options, so the next run is a full recompute.
    const all = reduceDeps(w, { repeats: 'all' }, 5);
    const r = await reduceCollection(all, w.collectionId);
    expect(r.full).toBe(true);
    const batchAll = reduceAll(gen, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'all' });
    const now = await snapshot(w);
    for (const s of now) expect(s.result).toEqual(JSON.parse(JSON.stringify(batchAll.subjects.find((b) => subjectKey(b.workflowId, b.subjectId) === s.key))));
    expect(now.reduce((a, s) => a + s.n, 0)).toBeGreaterThan(incremental.reduce((a, s) => a + s.n, 0));
  });

  it('an export reaching many subjects below what they hold recomputes once instead of rebuilding each', async () => {
    w = await resultsWorld(kind, 130);
    const gen = [...generateClassifications({ seed: 23, subjects: 130, perSubject: 3, volunteers: 6, repeats: 0 })];
    await w.repos.classifications.saveWorkflow({ workflowId: WORKFLOW_ID, projectId: '1', version: '12.3', displayName: 'Mergers', tasks: TASKS as Record<string, unknown> });
    const d = reduceDeps(w, null, 1000);
    await w.repos.classifications.insert((await keepBridgeRows(w.repos, '1', gen.slice(130), 'pull')).rows);
    expect((await reduceCollection(d, w.collectionId)).full).toBe(false);
    await w.repos.classifications.insert((await keepBridgeRows(w.repos, '1', gen.slice(0, 130), 'export')).rows);
    const r = await reduceCollection(d, w.collectionId);
    expect(r).toMatchObject({ full: true, subjects: 130, classifications: gen.length });
    const batch = reduceAll(gen, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'first' });
    const now = await snapshot(w);
    expect(now.length).toBe(130);
    for (const s of now) expect(s.result).toEqual(JSON.parse(JSON.stringify(batch.subjects.find((b) => subjectKey(b.workflowId, b.subjectId) === s.key))));
  });

  it('with SWAP, gold subjects train skills; an older arrival recomputes the collection and the numbers equal reduceAll', async () => {
    w = await resultsWorld(kind, 10);
    const gen = [...generateClassifications({ seed: 31, subjects: 10, perSubject: 6, volunteers: 8, repeats: 0 })];
    // Subjects 0-2 are gold: their first classification carries the flag and the truth.
    for (const s of ['100000', '100001', '100002']) gen.find((c) => c.subjectIds[0] === s)!.goldStandard = true;
    await w.repos.classifications.saveWorkflow({ workflowId: WORKFLOW_ID, projectId: '1', version: '12.3', displayName: 'Mergers', tasks: TASKS as Record<string, unknown> });
    const settings: CollectionReduceSettings = { repeats: 'first', swap: { task: 'T0', yes: 'Yes', no: 'No', prior: 0.3 } };
    const d = reduceDeps(w, settings, 6);
    const third = Math.floor(gen.length / 3);
    const order = [gen.slice(0, third), gen.slice(2 * third), gen.slice(third, 2 * third)];
    const reports = [];
    for (const part of order) {
      await w.repos.classifications.insert((await keepBridgeRows(w.repos, '1', part, 'pull')).rows);
      reports.push(await reduceCollection(d, w.collectionId));
    }
    expect(reports.map((r) => r.full)).toEqual([false, false, true]);
    const incremental = await snapshot(w);
    expect(incremental.every((s) => s.swap !== null)).toBe(true);
    await recomputeCollection(d, w.collectionId);
    expect(await snapshot(w)).toEqual(incremental);
    const gold = new Map<string, boolean>();
    for (const c of gen) if (c.goldStandard && !gold.has(c.subjectIds[0])) {
      const v = (c.annotations.find((a) => (a as { task: string }).task === 'T0') as { value: number }).value;
      if (v === 0) gold.set(c.subjectIds[0], true);
      else if (v === 1) gold.set(c.subjectIds[0], false);
    }
    const batch = reduceAll(gen, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'first', swap: { task: 'T0', yes: 'Yes', no: 'No', prior: 0.3, goldTruth: (s) => gold.get(s) } });
    for (const s of incremental) expect(s.result).toEqual(JSON.parse(JSON.stringify(batch.subjects.find((b) => subjectKey(b.workflowId, b.subjectId) === s.key))));
  });
});
