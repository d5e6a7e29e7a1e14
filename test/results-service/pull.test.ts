import { afterEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { pullProject } from '../../src/domain/results-pull.js';
import { generateClassifications, WORKFLOW_ID } from '../support/classifications.js';
import { DB_KINDS } from '../support/databases.js';
import { deps, resultsWorld, seedOf, type ResultsWorld } from './harness.js';

// PGlite's migrations alone take seconds on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

/*
 * The incremental pull against the Panoptes double and a real database:
 * pages stored once with the cursor, only the bridge's subjects kept,
 * volunteers opaque, no IP address anywhere, resumable after a failure.
 */

describe.each(DB_KINDS)('results pull (%s)', (kind) => {
  let w: ResultsWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  const stored = async (x: ResultsWorld) => (await x.t.db.selectFrom('classifications').select([sql<string>`id::text`.as('id'), 'subject_id', 'volunteer', 'annotations', 'metadata', 'image_id', 'collection_id']).orderBy('id').execute());

  it('stores the pages of the bridge subjects once, moves the cursor, counts the rest and keeps volunteers opaque', async () => {
    w = await resultsWorld(kind, 6);
    const gen = [...generateClassifications({ seed: 3, subjects: 6, perSubject: 4, volunteers: 10, anonymous: 0.3, repeats: 0 })];
    const ours = w.server.addClassifications(gen.map((c) => seedOf(c)));
    // Someone else's subjects in the same project: counted, not stored.
    const theirs = w.server.addClassifications([{ workflowId: WORKFLOW_ID, user: { id: '77', login: 'other' }, subjectIds: ['999001'], annotations: [{ task: 'T0', value: 1 }] }]);
    const r = await pullProject(deps(w), '1', { pageSize: 7 });
    expect(r.pages).toBe(Math.ceil((ours.length + theirs.length) / 7));
    expect(r.kept).toBe(ours.length);
    expect(r.ignored).toBe(1);
    expect(r.collections).toEqual([w.collectionId]);
    const rows = await stored(w);
    expect(rows.map((x) => x.id)).toEqual(ours.map((c) => c.id));
    for (const row of rows) expect(row.image_id).toBe(w.imageOf.get(row.subject_id));
    const cursor = (await w.repos.classifications.cursor('1'))!;
    expect(cursor.lastId).toBe(theirs[0].id);
    expect(cursor.kept).toBe(ours.length);
    expect(cursor.ignored).toBe(1);
    expect(cursor.lastError).toBeNull();
    expect(cursor.pulledAt).not.toBeNull();
    // Anonymous volunteers of the API are their own opaque key; logged-in ones their user id, no login name.
    const anon = ours.filter((c) => c.userId === null);
    expect(anon.length).toBeGreaterThan(0);
    for (const c of anon) expect(rows.find((x) => x.id === c.id)!.volunteer).toBe(`anon:${c.id}`);
    for (const c of ours.filter((x) => x.userId !== null)) expect(rows.find((x) => x.id === c.id)!.volunteer).toBe(`user:${c.userId}`);
    // No IP address stored anywhere, even though every classification had one at Panoptes.
    const dump = JSON.stringify(await w.t.db.selectFrom('classifications').selectAll().execute());
    expect(dump).not.toContain('198.51.100.23');
    expect(dump).not.toContain('user_ip');
    // The workflow's task definitions were fetched once, for the labels.
    expect((await w.repos.classifications.workflows([WORKFLOW_ID]))[0].tasks).toHaveProperty('T0');
    expect(w.server.requestsTo('getWorkflow').length).toBe(1);

    // Nothing new: nothing stored or counted again, the workflow is not read again.
    const again = await pullProject(deps(w), '1', { pageSize: 7 });
    expect(again).toMatchObject({ pages: 0, kept: 0, ignored: 0, collections: [] });
    expect((await w.repos.classifications.cursor('1'))!.kept).toBe(ours.length);
    expect(w.server.requestsTo('getWorkflow').length).toBe(1);
    // More volunteers later: only the new ones are asked for and stored.
    const later = w.server.addClassifications(gen.slice(0, 3).map((c) => seedOf({ ...c, userId: '9999' })));
    const third = await pullProject(deps(w), '1', { pageSize: 7 });
    expect(third.kept).toBe(3);
    expect((await stored(w)).length).toBe(ours.length + later.length);
    const asked = w.server.requestsTo('listProjectClassifications').at(-2)!;
    expect(asked.query.get('last_id')).toBe(theirs[0].id);
  });

  it('a failure on page 3 keeps pages 1-2 stored once, says why, and the next run resumes from the cursor', async () => {
    w = await resultsWorld(kind, 5);
    const gen = [...generateClassifications({ seed: 5, subjects: 5, perSubject: 6, volunteers: 8, repeats: 0 })];
    const ours = w.server.addClassifications(gen.map((c) => seedOf(c)));
    w.server.faults.push({ route: 'listProjectClassifications', kind: 'status', status: 500, message: 'Internal Server Error', skip: 2, times: 20 });
    await expect(pullProject(deps(w), '1', { pageSize: 5 })).rejects.toThrow();
    const c1 = (await w.repos.classifications.cursor('1'))!;
    expect(c1.lastId).toBe(ours[9].id);
    expect(c1.kept).toBe(10);
    expect(c1.lastError).toMatch(/^Panoptes did not answer: /);
    expect((await stored(w)).length).toBe(10);
    w.server.faults.length = 0;
    const r = await pullProject(deps(w), '1', { pageSize: 5 });
    expect(r.kept).toBe(ours.length - 10);
    const rows = await stored(w);
    expect(rows.map((x) => x.id)).toEqual(ours.map((c) => c.id));
    const c2 = (await w.repos.classifications.cursor('1'))!;
    expect(c2.kept).toBe(ours.length);
    expect(c2.lastError).toBeNull();
  });

  it('stops after maxPages and says there is more', async () => {
    w = await resultsWorld(kind, 4);
    const gen = [...generateClassifications({ seed: 7, subjects: 4, perSubject: 5, volunteers: 6, repeats: 0 })];
    w.server.addClassifications(gen.map((c) => seedOf(c)));
    const r = await pullProject(deps(w), '1', { pageSize: 4, maxPages: 2 });
    expect(r).toMatchObject({ pages: 2, kept: 8, more: true });
    const rest = await pullProject(deps(w), '1', { pageSize: 4, maxPages: 100 });
    expect(rest.kept).toBe(12);
    expect(rest.more).toBe(false);
  });

  it('reads a workflow Panoptes sends without tasks, version or name without failing the pull', async () => {
    w = await resultsWorld(kind, 2);
    const gen = [...generateClassifications({ seed: 9, subjects: 2, perSubject: 2, volunteers: 4, repeats: 0 })];
    w.server.addClassifications(gen.map((c) => seedOf(c)));
    w.server.faults.push({ route: 'getWorkflow', kind: 'omit-fields', fields: ['tasks', 'version', 'display_name', 'links'] });
    const r = await pullProject(deps(w), '1');
    expect(r.kept).toBe(gen.length);
    const [wf] = await w.repos.classifications.workflows([WORKFLOW_ID]);
    expect(wf).toMatchObject({ workflowId: WORKFLOW_ID, projectId: '1', version: null, displayName: null, tasks: {} });
  });

  it('a refusal is recorded in words', async () => {
    w = await resultsWorld(kind, 2);
    w.server.faults.push({ route: 'listProjectClassifications', kind: 'status', status: 422, message: 'Project ID required' });
    await expect(pullProject(deps(w), '1')).rejects.toThrow();
    expect((await w.repos.classifications.cursor('1'))!.lastError).toMatch(/^Panoptes refused: .*Project ID required/);
  });
});
