import { afterEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { ConflictError } from '../../src/domain/errors.js';
import { requestBackfill, resultsStatus, runBackfill, type BackfillRun, type ResultsBackfillDeps } from '../../src/domain/results-backfill.js';
import { pullProject } from '../../src/domain/results-pull.js';
import { reduceCollection, recomputeCollection } from '../../src/domain/results-reduce.js';
import { generateClassifications, WORKFLOW_ID } from '../support/classifications.js';
import { DB_KINDS } from '../support/databases.js';
import { quietLog } from '../support/upload-fixtures.js';
import { deps, resultsWorld, seedOf, type ResultsWorld } from './harness.js';

// PGlite's migrations alone take seconds on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

/*
 * The export backfill against the Panoptes double's exports (one a day,
 * gzipped CSV with user_ip, subject_data with the subjects' metadata):
 * requested once, loaded once, only the bridge's subjects kept, no IP
 * stored; a truncated download fails in words and loads on the next try
 * without counting anything twice.
 */

describe.each(DB_KINDS)('results export backfill (%s)', (kind) => {
  let w: ResultsWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  const bdeps = (x: ResultsWorld, batchSize = 1000): ResultsBackfillDeps => ({ repos: x.repos, source: x.adapters.classifications, clock: { now: () => new Date(x.server.results.now()) }, log: quietLog, batchSize });
  const storedCount = async (x: ResultsWorld) => Number((await x.t.db.selectFrom('classifications').select(sql<string>`count(distinct id)::text`.as('n')).executeTakeFirstOrThrow()).n);
  const untilSettled = async (x: ResultsWorld, batchSize?: number): Promise<BackfillRun> => {
    for (let i = 0; i < 5; i++) {
      const r = await runBackfill(bdeps(x, batchSize), '1');
      if (r.state !== 'creating') return r;
    }
    throw new Error('export never became ready');
  };

  /** Subjects 100000-100003 uploaded through the API; a fifth image uploaded by hand, known only by its '#bridge_image_id'. */
  async function world(): Promise<{ x: ResultsWorld; handSubject: string; total: number; foreign: number }> {
    const x = await resultsWorld(kind, 5);
    const handImage = x.imageOf.get('100004')!;
    await x.t.db.updateTable('upload_items').set({ subject_id: null }).where('image_id', '=', handImage).execute();
    const set = x.server.seedSubjectSet({ displayName: 'by hand' });
    const [hand, foreign] = x.server.seedSubjects(set.id, 2);
    (x.server as unknown as { subjects: Map<string, { metadata: Record<string, unknown> }> }).subjects.get(hand.id)!.metadata['#bridge_image_id'] = handImage;
    const gen = [...generateClassifications({ seed: 41, subjects: 4, perSubject: 5, volunteers: 9, anonymous: 0.4, repeats: 0 })];
    // The first is a gold-standard classification: only the export says so.
    x.server.addClassifications(gen.map((c, i) => seedOf({ ...c, goldStandard: i === 0 })));
    x.server.addClassifications([
      { workflowId: WORKFLOW_ID, user: null, userIp: '198.51.100.23', subjectIds: [hand.id], annotations: [{ task: 'T0', value: 0 }] },
      { workflowId: WORKFLOW_ID, user: { id: '61', login: 'sixty-one' }, userIp: '198.51.100.23', subjectIds: [hand.id], annotations: [{ task: 'T0', value: 1 }] },
      { workflowId: WORKFLOW_ID, user: { id: '62', login: 'sixty-two' }, userIp: '198.51.100.23', subjectIds: [foreign.id], annotations: [{ task: 'T0', value: 1 }] },
    ]);
    return { x, handSubject: hand.id, total: gen.length + 2, foreign: 1 };
  }

  it('requests the export once, loads it once with only the bridge subjects, then says when the next is possible', async () => {
    const s = await world();
    w = s.x;
    const c = { id: w.collectionId, zooniverse_project_id: '1' };
    const asked = await requestBackfill(bdeps(w), c);
    expect(asked.state).toBe('requested');
    expect(Date.parse(asked.nextPossibleAt!)).toBeGreaterThan(w.server.results.now() + 23 * 3600_000);
    const run = await untilSettled(w);
    expect(run).toMatchObject({ state: 'loaded', rows: s.total + s.foreign, kept: s.total, ignored: s.foreign, collections: [w.collectionId] });
    expect(await storedCount(w)).toBe(s.total);
    // The hand-uploaded subject was recognised by its '#bridge_image_id'.
    const hand = await w.t.db.selectFrom('classifications').select(['image_id', 'volunteer', 'source']).where('subject_id', '=', s.handSubject).orderBy('classifications.id').execute();
    expect(hand.map((h) => h.image_id)).toEqual([w.imageOf.get('100004'), w.imageOf.get('100004')]);
    // The export's anonymous volunteer is its opaque per-session name; nothing names an address.
    expect(hand[0].volunteer).toMatch(/^name:not-logged-in-[0-9a-f]+$/);
    const dump = JSON.stringify(await w.t.db.selectFrom('classifications').selectAll().execute());
    expect(dump).not.toContain('198.51.100.23');
    expect(dump).not.toContain('user_ip');
    const cur = (await w.repos.classifications.cursor('1'))!;
    expect(cur).toMatchObject({ exportState: 'loaded', exportRows: s.total + s.foreign, kept: s.total, exportError: null });

    // Loaded once: running again reads nothing.
    const downloads = w.server.results.exports.downloads;
    expect((await runBackfill(bdeps(w), '1')).state).toBe('up_to_date');
    expect(w.server.results.exports.downloads).toBe(downloads);
    // The pull then finds the same classifications: stored and counted once.
    const pulled = await pullProject(deps(w), '1');
    expect(pulled.kept).toBe(0);
    expect(await storedCount(w)).toBe(s.total);
    expect((await w.repos.classifications.cursor('1'))!.kept).toBe(s.total);

    // Another backfill the same day: refused with the time the next is possible, nothing sent.
    const posts = w.server.requestsTo('createClassificationsExport').length;
    const err = await requestBackfill(bdeps(w), c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/next export is possible from \d{4}-\d\d-\d\dT/);
    expect(w.server.requestsTo('createClassificationsExport').length).toBe(posts);
    const st = await resultsStatus(w.repos, c, { now: () => new Date(w!.server.results.now()) });
    expect(st.export!.nextPossibleAt).toBe((err as ConflictError).detail!.nextPossibleAt);
    expect(st.export!.message).toMatch(/The next export is possible from/);
    expect(st.classifications).toBe(s.total - 2 + 2);

    // A day later a new export may be asked for.
    w.server.results.now = () => Date.now() + 25 * 3600_000;
    expect((await requestBackfill(bdeps(w), c)).state).toBe('requested');
  });

  it('a truncated download fails in words, then loads on the next try without counting twice; reductions equal a recompute', async () => {
    const s = await world();
    w = s.x;
    await pullProject(deps(w), '1', { maxPages: 1, pageSize: 6 });
    await reduceCollection({ repos: w.repos, settingsFor: async () => null }, w.collectionId);
    await requestBackfill(bdeps(w), { id: w.collectionId, zooniverse_project_id: '1' });
    w.server.faults.push({ route: 'downloadExport', kind: 'truncate-body' });
    let failed: unknown;
    try {
      await untilSettled(w, 3);
    } catch (e) {
      failed = e;
    }
    expect(failed).toBeDefined();
    const cur = (await w.repos.classifications.cursor('1'))!;
    expect(cur.exportState).toBe('failed');
    expect(cur.exportError).toMatch(/^The export could not be loaded: /);
    const partial = await storedCount(w);
    expect(cur.kept).toBe(partial);
    const run = await untilSettled(w, 3);
    expect(run.state).toBe('loaded');
    expect(await storedCount(w)).toBe(s.total);
    expect((await w.repos.classifications.cursor('1'))!.kept).toBe(s.total);
    // Pulled before the export, the gold-standard classification learnt its flag from the export.
    const gold = await w.t.db.selectFrom('classifications').select([sql<string>`id::text`.as('id'), 'gold_standard', 'source']).where('gold_standard', '=', true).execute();
    expect(gold).toEqual([{ id: '5000', gold_standard: true, source: 'pull' }]);
    // The export brought older classifications after newer pulled ones: the incremental reduction still equals a recompute.
    await reduceCollection({ repos: w.repos, settingsFor: async () => null, chunkSize: 4 }, w.collectionId);
    const inc = await w.repos.reductions.list(w.collectionId, { limit: 100 });
    await recomputeCollection({ repos: w.repos, settingsFor: async () => null }, w.collectionId);
    expect(await w.repos.reductions.list(w.collectionId, { limit: 100 })).toEqual(inc);
    // Every subject reduced (anonymous export volunteers sharing one address are one volunteer, so repeats may drop some).
    expect(inc.map((r) => r.subjectId).sort()).toEqual(['100000', '100001', '100002', '100003', s.handSubject].sort());
  });
});
