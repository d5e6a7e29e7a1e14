import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/domain/errors.js';
import { AmbiguousRequestError, PanoptesNotFound, PanoptesRefused } from '../../src/domain/ports/panoptes-client.js';
import type { RetirementRequest, ZooniverseEffects } from '../../src/domain/ports/zooniverse-effects.js';
import { PanoptesZooniverseEffects } from '../../src/adapters/panoptes/zooniverse-effects.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { resultsAdapters } from '../support/results-adapters.js';
import { failure } from '../support/failure.js';

/*
 * Acting on Zooniverse (ZooniverseEffects) against the Panoptes double over
 * real HTTP: retiring with a reason, adding to a set, and the rule that an
 * effect whose outcome is unknown (504 after the commit) is reconciled by
 * reading Panoptes, never sent a second time; the double's counters prove it.
 */

const double = panoptesDoublePerTest();

function world(n = 4) {
  double.server.results.addWorkflow({ id: '11' });
  const set = double.server.seedSubjectSet({ displayName: 'DP1' });
  const expert = double.server.seedSubjectSet({ displayName: 'Expert review' });
  const subjects = double.server.seedSubjects(set.id, n).map((s) => s.id);
  return { subjects, expertSet: expert.id };
}

/** Retires once: after an ambiguous answer it reads back (twice, a job's wait apart) before it would send again. */
async function retireOnce(effects: ZooniverseEffects, workflowId: string, ids: string[], reason: RetirementRequest, waitMs = 0): Promise<void> {
  try {
    await effects.retireSubjects(workflowId, ids, reason);
  } catch (e) {
    if (!(e instanceof AmbiguousRequestError)) throw e;
    const uncertain = (e.detail?.uncertain as string[] | undefined) ?? ids;
    let missing = (await effects.retirementOf(workflowId, uncertain)).filter((r) => !r.retired).map((r) => r.subjectId);
    if (missing.length && waitMs) {
      await new Promise((r) => setTimeout(r, waitMs));
      missing = (await effects.retirementOf(workflowId, missing)).filter((r) => !r.retired).map((r) => r.subjectId);
    }
    if (missing.length) await effects.retireSubjects(workflowId, missing, reason);
  }
}

describe('retiring subjects', () => {
  it('retires with the reason asked, sends blank as nothing_here, and reads the retirement back', async () => {
    const { subjects } = world();
    const { effects } = resultsAdapters(double.server);
    await effects.retireSubjects('11', [subjects[0]], 'consensus');
    await effects.retireSubjects('11', [subjects[1], subjects[2]], 'blank');
    const sent = double.server.requestsTo('retireSubjects').map((r) => JSON.parse(r.body) as unknown);
    expect(sent).toEqual([
      { subject_ids: [subjects[0]], retirement_reason: 'consensus' },
      { subject_ids: [subjects[1], subjects[2]], retirement_reason: 'nothing_here' },
    ]);
    expect(double.server.requestsTo('retireSubjects').map((r) => r.status)).toEqual([204, 204]);

    const back = await effects.retirementOf('11', subjects);
    expect(back.map((r) => [r.subjectId, r.retired, r.reason])).toEqual([
      [subjects[0], true, 'consensus'],
      [subjects[1], true, 'nothing_here'],
      [subjects[2], true, 'nothing_here'],
      [subjects[3], false, null],
    ]);
    expect(back[0].retiredAt).toEqual(expect.any(String));
  });

  it('keeps the first reason, skips unknown subjects without a word, and reads them as not retired', async () => {
    const { subjects } = world();
    const { effects } = resultsAdapters(double.server);
    await effects.retireSubjects('11', [subjects[0]], 'flagged');
    await effects.retireSubjects('11', [subjects[0], '999999'], 'human');
    expect(double.server.results.retired('11')).toEqual(new Map([[subjects[0], { reason: 'flagged', retiredAt: expect.any(String) }]]));
    expect((await effects.retirementOf('11', ['999999', subjects[0]])).map((r) => [r.subjectId, r.retired, r.reason])).toEqual([
      ['999999', false, null],
      [subjects[0], true, 'flagged'],
    ]);
  });

  it('refuses a reason Panoptes does not know, and ids that are not Panoptes ids, before sending anything', async () => {
    const { subjects } = world();
    const { effects } = resultsAdapters(double.server);
    for (const bad of ['consensus ', 'retired', '', 'CLASSIFICATION_COUNT']) {
      const e = await failure(effects.retireSubjects('11', [subjects[0]], bad as RetirementRequest));
      expect(e).toBeInstanceOf(ValidationError);
    }
    await expect(effects.retireSubjects('11', ['12,13'], 'other')).rejects.toBeInstanceOf(ValidationError);
    await expect(effects.retireSubjects('wf-11', [subjects[0]], 'other')).rejects.toBeInstanceOf(ValidationError);
    expect(double.server.requestsTo('retireSubjects')).toHaveLength(0);
  });

  it('does not resend a retire after a 504 that followed the commit: reading back shows it done', async () => {
    const { subjects } = world();
    const { effects } = resultsAdapters(double.server);
    double.server.faults.push({ route: 'retireSubjects', kind: 'commit-then-504' });
    const e = await failure(effects.retireSubjects('11', subjects.slice(0, 2), 'consensus'));
    expect(e).toBeInstanceOf(AmbiguousRequestError);
    expect((e as AmbiguousRequestError).operation).toBe('retireSubjects');
    expect((e as AmbiguousRequestError).detail).toMatchObject({ uncertain: subjects.slice(0, 2), applied: [], status: 504 });
    expect(double.server.requestsTo('retireSubjects')).toHaveLength(1);

    double.server.faults.push({ route: 'retireSubjects', kind: 'commit-then-504' });
    await retireOnce(effects, '11', subjects.slice(2), 'consensus');
    for (const s of subjects) expect(double.server.results.retireRequestsFor('11', s)).toBe(1);
    expect((await effects.retirementOf('11', subjects)).every((r) => r.retired && r.reason === 'consensus')).toBe(true);
  });

  it('when Panoptes retires in the background, a read-back after the job\'s delay still finds it done', async () => {
    const { subjects } = world();
    double.server.results.retireDelayMs = 150;
    const { effects } = resultsAdapters(double.server);
    double.server.faults.push({ route: 'retireSubjects', kind: 'commit-then-504' });
    await retireOnce(effects, '11', [subjects[0]], 'consensus', 400);
    expect(double.server.results.retireRequestsFor('11', subjects[0])).toBe(1);
    expect((await effects.retirementOf('11', [subjects[0]]))[0]).toMatchObject({ retired: true, reason: 'consensus' });
  });

  it('says which chunks went through when a later one is ambiguous', async () => {
    const { subjects } = world(5);
    const { http } = resultsAdapters(double.server);
    const effects = new PanoptesZooniverseEffects(http, { chunkSize: 2 });
    double.server.faults.push({ route: 'retireSubjects', kind: 'commit-then-504', skip: 1 });
    const e = (await failure(effects.retireSubjects('11', subjects, 'other'))) as AmbiguousRequestError;
    expect(e.detail).toMatchObject({ applied: subjects.slice(0, 2), uncertain: subjects.slice(2, 4) });
    expect(double.server.results.retireRequestsFor('11', subjects[4])).toBe(0);
  });

  it('retries what Panoptes refused before acting (429, 503) and refuses a workflow the account cannot change', async () => {
    const { subjects } = world();
    const { effects } = resultsAdapters(double.server);
    double.server.faults.push({ route: 'retireSubjects', kind: 'status', status: 429, retryAfter: 0 }, { route: 'retireSubjects', kind: 'status', status: 503 });
    await effects.retireSubjects('11', [subjects[0]], 'classification_count');
    expect(double.server.requestsTo('retireSubjects').map((r) => r.status)).toEqual([429, 503, 204]);
    expect(double.server.results.retireRequestsFor('11', subjects[0])).toBe(1);

    await expect(effects.retireSubjects('77', [subjects[0]], 'other')).rejects.toBeInstanceOf(PanoptesNotFound);
    double.server.results.denyProject('1');
    await expect(effects.retireSubjects('11', [subjects[1]], 'other')).rejects.toBeInstanceOf(PanoptesNotFound);
  });
});

describe('adding subjects to a set', () => {
  it('links once, deduplicated, and reads membership back', async () => {
    const { subjects, expertSet } = world();
    const { effects } = resultsAdapters(double.server);
    await effects.addSubjectsToSet(expertSet, [subjects[0], subjects[1], subjects[0]]);
    expect(JSON.parse(double.server.requestsTo('linkSubjects')[0].body)).toEqual({ subjects: [subjects[0], subjects[1]] });
    expect(await effects.setMembers(expertSet, subjects)).toEqual(new Set([subjects[0], subjects[1]]));
    expect(double.server.setMembers(expertSet)).toEqual([subjects[0], subjects[1]]);
  });

  it('is applied once under a 504 after the commit: the caller reads membership instead of linking again', async () => {
    const { subjects, expertSet } = world();
    const { effects } = resultsAdapters(double.server);
    double.server.faults.push({ route: 'linkSubjects', kind: 'commit-then-504' });
    const e = await failure(effects.addSubjectsToSet(expertSet, subjects.slice(0, 3)));
    expect(e).toBeInstanceOf(AmbiguousRequestError);
    expect((e as AmbiguousRequestError).operation).toBe('addSubjectsToSet');
    const members = await effects.setMembers(expertSet, subjects.slice(0, 3));
    const missing = subjects.slice(0, 3).filter((s) => !members.has(s));
    expect(missing).toEqual([]);
    if (missing.length) await effects.addSubjectsToSet(expertSet, missing);
    for (const s of subjects.slice(0, 3)) expect(double.server.results.linkRequestsFor(expertSet, s)).toBe(1);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(1);
  });

  it('is refused (422) when an id is not a subject, and links nothing', async () => {
    const { subjects, expertSet } = world();
    const { effects } = resultsAdapters(double.server);
    const e = await failure(effects.addSubjectsToSet(expertSet, [subjects[0], '424242']));
    expect(e).toBeInstanceOf(PanoptesRefused);
    expect((e as PanoptesRefused).reason).toBe('unprocessable');
    expect(double.server.setMembers(expertSet)).toEqual([]);
  });
});

describe('the double, as Panoptes answers', () => {
  it('answers 204 without a body, 422 to an unknown reason, and lists subject workflow statuses', async () => {
    const { subjects } = world();
    double.server.addClassifications([{ workflowId: '11', subjectIds: [subjects[1]], annotations: [] }]);
    const { http } = resultsAdapters(double.server);
    const a = await http.send({ method: 'POST', path: '/workflows/11/retired_subjects', body: { subject_id: subjects[0] }, what: 'retire' });
    expect(a).toMatchObject({ status: 204, body: null });
    expect(double.server.results.retired('11').get(subjects[0])).toMatchObject({ reason: null });

    const e = await failure(http.send({ method: 'POST', path: '/workflows/11/retired_subjects', body: { subject_ids: [subjects[1]], retirement_reason: 'done' }, what: 'retire' }));
    expect((e as PanoptesRefused).reason).toBe('unprocessable');
    expect(e.message).toMatch(/Retirement reason is not included in the list/);

    const list = await http.send({ method: 'GET', path: '/subject_workflow_statuses', query: { workflow_id: '11', subject_id: subjects.join(',') }, what: 'statuses' });
    const rows = (list.body as { subject_workflow_statuses: { classifications_count: number; retired_at: string | null; links: { subject: string } }[] }).subject_workflow_statuses;
    expect(rows.map((r) => [r.links.subject, r.classifications_count, r.retired_at !== null])).toEqual([
      [subjects[1], 1, false],
      [subjects[0], 0, true],
    ]);
  });
});
