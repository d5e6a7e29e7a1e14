import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Caller } from '../../src/domain/caller.js';
import { ConflictError, ForbiddenError } from '../../src/domain/errors.js';
import { applyResultRules, ResultRulesBusyError, undoEffect, type ResultEffectsDeps } from '../../src/domain/results-effects.js';
import { databaseLock } from '../../src/db/locks.js';
import { dryRunResultRules } from '../../src/domain/results-evaluate.js';
import { setResultsRulesEnabled, storeResultsRules } from '../../src/domain/results-rules-store.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { resultsAdapters } from '../support/results-adapters.js';
import { failure } from '../support/failure.js';
import { expertRules, resultsWorld, retireRules, t0, type ResultsWorld } from './effects-fixture.js';

/*
 * Results rules acting on Zooniverse, each effect once: the subjects a
 * rule retires are exactly those whose reduction meets it; a move to the
 * expert set whose answer is lost after Panoptes committed it (504) is read
 * back, not sent again; an effect a crash left in 'sending' is reconciled
 * on the next run; a dry run writes nothing; undo removes from a set and
 * clears a flag, and refuses to un-retire.
 */

const alien: Caller = { username: 'alien', roles: ['pi'] };
const queues = { add: async () => {} };
const double = panoptesDoublePerTest();

describe.each(DB_KINDS)('results rules effects on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await freshDatabase(kind);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  async function setUp(rules: (w: ResultsWorld) => string, o: { enable?: boolean } = {}) {
    const w = await resultsWorld(t.db, double.server);
    const c = await w.repos.collections.get(w.collectionId);
    await storeResultsRules(w.repos, alien, c, rules(w));
    if (o.enable !== false) await setResultsRulesEnabled({ repos: w.repos, queues }, alien, c, true);
    const { effects } = resultsAdapters(double.server);
    const deps: ResultEffectsDeps = { repos: w.repos, zooniverse: effects, retireReadBackDelayMs: 0, sleep: async () => {} };
    return { w, c, deps, effects };
  }
  const ledger = (cid: string) => t.db.selectFrom('result_effects').selectAll().where('collection_id', '=', cid).execute();

  it('retirement at agreement >= 0.8 and >= 5 votes retires exactly the expected subjects, once', async () => {
    const { w, deps } = await setUp((x) => retireRules(x.workflowId));
    const expected = [...w.reductions].filter(([, r]) => t0(r).agreement >= 0.8 && t0(r).classifications >= 5).map(([sid]) => sid).sort();
    // The data must make the rule discriminate, or the test proves nothing.
    expect(expected.length).toBeGreaterThan(2);
    expect(expected.length).toBeLessThan(w.reductions.size - 2);

    const report = await applyResultRules(deps, w.collectionId);
    expect(report).toMatchObject({ recorded: expected.length, done: expected.length, failed: 0, unsettled: 0 });
    const retired = double.server.results.retired(w.workflowId);
    expect([...retired.keys()].sort()).toEqual(expected);
    for (const v of retired.values()) expect(v.reason).toBe('consensus');
    for (const s of expected) expect(double.server.results.retireRequestsFor(w.workflowId, s)).toBe(1);
    const rows = await ledger(w.collectionId);
    expect(rows.map((r) => [r.subject_id, r.kind, r.state, r.attempts]).sort()).toEqual(expected.map((s) => [s, 'retire_subject', 'done', 1]));
    expect(rows.every((r) => r.image_id === w.imageOf.get(r.subject_id))).toBe(true);

    // Audited (recorded and done) and told to the PI.
    const audit = await t.db.selectFrom('audit_log').select(['action', 'entity_id']).where('collection_id', '=', w.collectionId).where('action', 'like', 'result_effect_%').execute();
    expect(audit.filter((a) => a.action === 'result_effect_recorded')).toHaveLength(expected.length);
    expect(audit.filter((a) => a.action === 'result_effect_done')).toHaveLength(expected.length);
    const events = await t.db.selectFrom('events').select(['kind', 'payload']).where('collection_id', '=', w.collectionId).execute();
    const told = events.filter((e) => e.kind === 'subject_retired').flatMap((e) => (e.payload as { subjects: { subjectId: string }[] }).subjects.map((s) => s.subjectId));
    expect(told.sort()).toEqual(expected);

    // Running again (new classifications or not) sends nothing twice.
    const requests = double.server.requestsTo('retireSubjects').length;
    const again = await applyResultRules(deps, w.collectionId);
    expect(again).toMatchObject({ recorded: 0, done: 0 });
    expect(double.server.requestsTo('retireSubjects')).toHaveLength(requests);
  });

  it('retires a subject once even when two rules retire it for different reasons (the first rule wins)', async () => {
    const { w, deps } = await setUp((x) => `${retireRules(x.workflowId)}  - id: retire-many\n    task: T0\n    condition: [gte, [lookup, classifications, 0], [const, 5]]\n    effects:\n      - retire_subject: { reason: classification_count }\n`);
    await applyResultRules(deps, w.collectionId);
    const rows = (await ledger(w.collectionId)).filter((r) => r.kind === 'retire_subject');
    const bySubject = new Map(rows.map((r) => [r.subject_id, r]));
    expect(bySubject.size).toBe(rows.length);
    const consensus = [...w.reductions].filter(([, r]) => t0(r).agreement >= 0.8 && t0(r).classifications >= 5).map(([s]) => s);
    expect(consensus.length).toBeGreaterThan(0);
    for (const s of consensus) expect(bySubject.get(s)).toMatchObject({ rule_id: 'retire-on-consensus', target: 'consensus', state: 'done' });
    for (const [s, r] of bySubject) if (!consensus.includes(s)) expect(r).toMatchObject({ rule_id: 'retire-many', target: 'classification_count' });
    for (const s of bySubject.keys()) expect(double.server.results.retireRequestsFor(w.workflowId, s)).toBe(1);
    for (const [s, v] of double.server.results.retired(w.workflowId)) expect(v.reason).toBe(bySubject.get(s)!.target);
  });

  it('a move to the expert set happens once under a 504 after the commit', async () => {
    const { w, deps } = await setUp((x) => expertRules(x.expertSet));
    const expected = [...w.reductions].filter(([, r]) => t0(r).agreement < 0.6 && t0(r).classifications >= 5).map(([sid]) => sid).sort();
    expect(expected.length).toBeGreaterThan(1);
    double.server.faults.push({ route: 'linkSubjects', kind: 'commit-then-504' });
    const report = await applyResultRules(deps, w.collectionId);
    expect(report.failed).toBe(0);
    expect(report.unsettled).toBe(0);
    expect(double.server.requestsTo('linkSubjects').map((r) => r.status)).toEqual([504]);
    for (const s of expected) expect(double.server.results.linkRequestsFor(w.expertSet, s)).toBe(1);
    expect([...double.server.setMembers(w.expertSet)].sort()).toEqual(expected);

    const rows = await ledger(w.collectionId);
    const moves = rows.filter((r) => r.kind === 'add_subject_to_set');
    expect(moves.map((r) => r.subject_id).sort()).toEqual(expected);
    expect(moves.every((r) => r.state === 'done' && r.attempts === 1 && (r.detail as { reconciled?: boolean }).reconciled === true)).toBe(true);
    expect(rows.filter((r) => r.kind === 'flag' && r.state === 'done')).toHaveLength(expected.length);
    const flagged = await t.db.selectFrom('events').select('payload').where('collection_id', '=', w.collectionId).where('kind', '=', 'subject_flagged').execute();
    expect(flagged.map((e) => (e.payload as { subjectId: string; message: string }).subjectId).sort()).toEqual(expected);

    await applyResultRules(deps, w.collectionId);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(1);
  });

  it('reconciles an effect a crash left in sending: found on Zooniverse -> done without resending; not found -> sent once', async () => {
    const { w, deps, effects } = await setUp((x) => expertRules(x.expertSet));
    // First run without Zooniverse: intents recorded (and local effects done), nothing sent.
    const first = await applyResultRules({ ...deps, zooniverse: undefined }, w.collectionId);
    expect(first.unsettled).toBeGreaterThan(1);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(0);
    const intents = (await ledger(w.collectionId)).filter((r) => r.kind === 'add_subject_to_set');
    // A worker claimed them all, sent only the first half, and died before recording anything.
    await w.repos.resultEffects.claimForSending(intents.map((r) => r.id));
    const half = intents.slice(0, Math.ceil(intents.length / 2)).map((r) => r.subject_id);
    await effects.addSubjectsToSet(w.expertSet, half);
    // The sweep finds the collection again, so a lost job is late, never lost.
    expect(await w.repos.resultEffects.unsettledCollections(new Date(Date.now() + 60_000))).toContain(w.collectionId);

    const report = await applyResultRules(deps, w.collectionId);
    expect(report.unsettled).toBe(0);
    for (const r of intents) expect(double.server.results.linkRequestsFor(w.expertSet, r.subject_id)).toBe(1);
    const after = (await ledger(w.collectionId)).filter((r) => r.kind === 'add_subject_to_set');
    expect(after.every((r) => r.state === 'done')).toBe(true);
    const reconciled = after.filter((r) => (r.detail as { reconciled?: boolean }).reconciled).map((r) => r.subject_id).sort();
    expect(reconciled).toEqual([...half].sort());
    expect(await w.repos.resultEffects.unsettledCollections(new Date(Date.now() + 60_000))).not.toContain(w.collectionId);
    // The others were sent once, on their second claim.
    expect(after.filter((r) => !half.includes(r.subject_id)).every((r) => r.attempts === 2)).toBe(true);
  });

  it('runs one application per collection at a time: a second run while one holds it is told to come back', async () => {
    const { w, deps } = await setUp((x) => retireRules(x.workflowId));
    const lock = databaseLock(t.db);
    let inner: unknown;
    await lock.withLock(`result_rules:${w.collectionId}`, async () => {
      inner = await failure(applyResultRules({ ...deps, lock }, w.collectionId));
    });
    expect(inner).toBeInstanceOf(ResultRulesBusyError);
    expect(double.server.requestsTo('retireSubjects')).toHaveLength(0);
    expect((await applyResultRules({ ...deps, lock }, w.collectionId)).done).toBeGreaterThan(0);
  });

  it('records a definitive refusal as failed with the reason in words, and does not send it again', async () => {
    const { w, deps } = await setUp(() => expertRules('999999'));
    const report = await applyResultRules(deps, w.collectionId);
    const moves = (await ledger(w.collectionId)).filter((r) => r.kind === 'add_subject_to_set');
    expect(moves.length).toBeGreaterThan(1);
    expect(report.failed).toBe(moves.length);
    expect(moves.every((r) => r.state === 'failed' && /^Zooniverse refused it: .*subject set/i.test(r.error ?? ''))).toBe(true);
    const sent = double.server.requestsTo('linkSubjects').length;
    await applyResultRules(deps, w.collectionId);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(sent);
  });

  it('looks only at reductions written since its last run (all of them again for a new file, or when a rule reads retired)', async () => {
    const { w, c, deps } = await setUp((x) => retireRules(x.workflowId));
    const first = await applyResultRules(deps, w.collectionId);
    expect(first.subjects).toBe(w.reductions.size);
    expect((await applyResultRules(deps, w.collectionId)).subjects).toBe(0);
    // One subject that did not qualify reaches consensus: it alone is looked at, and retired.
    const [sid, red] = [...w.reductions].find(([, r]) => t0(r).agreement < 0.8 && t0(r).classifications >= 5)!;
    const agreed = structuredClone(red);
    const q = agreed.tasks.T0 as { consensus: { agreement: number } };
    q.consensus.agreement = 0.9;
    await w.repos.reductions.upsert([{ workflowId: w.workflowId, subjectId: sid, collectionId: w.collectionId, imageId: w.imageOf.get(sid)!, state: {}, result: agreed as unknown as Record<string, unknown>, classifications: agreed.classifications, throughId: '1', task: 'T0', mostLikely: null, agreement: 0.9, swapProbability: null }]);
    const after = await applyResultRules(deps, w.collectionId);
    expect(after).toMatchObject({ subjects: 1, recorded: 1, done: 1 });
    expect(double.server.results.retired(w.workflowId).has(sid)).toBe(true);
    // A new file starts over; a file whose rule reads `retired` looks at everything every time.
    const readsRetired = `${retireRules(w.workflowId)}  - id: flag-retired\n    condition: [lookup, retired, false]\n    effects:\n      - flag: { label: retired }\n`;
    await storeResultsRules(w.repos, alien, c, readsRetired);
    await setResultsRulesEnabled({ repos: w.repos, queues }, alien, c, true);
    expect((await applyResultRules(deps, w.collectionId)).subjects).toBe(w.reductions.size);
    expect((await applyResultRules(deps, w.collectionId)).subjects).toBe(w.reductions.size);
  });

  it('a dry run reports what the rules would do and writes nothing; switched-off rules do nothing', async () => {
    const { w, deps } = await setUp((x) => retireRules(x.workflowId), { enable: false });
    const count = async () => {
      const [e, a, v] = await Promise.all([
        t.db.selectFrom('result_effects').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
        t.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
        t.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return [Number(e.n), Number(a.n), Number(v.n)];
    };
    const before = await count();
    const report = await dryRunResultRules(deps, w.collectionId);
    expect(await count()).toEqual(before);
    expect(double.server.requestsTo('retireSubjects')).toHaveLength(0);
    const expected = [...w.reductions].filter(([, r]) => t0(r).agreement >= 0.8 && t0(r).classifications >= 5).map(([sid]) => sid).sort();
    expect(report.subjectsEvaluated).toBe(w.reductions.size);
    expect(report.rules[0].subjects.map((s) => s.subjectId).sort()).toEqual(expected);
    expect(report.rules[0].wouldDo).toBe(expected.length);
    const one = report.rules[0].subjects[0];
    expect(one.values['consensus.agreement']).toBe(t0(w.reductions.get(one.subjectId)!).agreement);
    expect(one.imageId).toBe(w.imageOf.get(one.subjectId));
    expect(report.warnings.join('\n')).toMatch(/retirement cannot be undone through the Panoptes API/);

    // Switched off, a run does nothing either.
    expect(await applyResultRules(deps, w.collectionId)).toMatchObject({ skipped: 'results rules are switched off', recorded: 0 });
    expect(await count()).toEqual(before);

    // A text sent for a dry run is checked but not stored, and sees what is already done.
    const other = await dryRunResultRules(deps, w.collectionId, retireRules(w.workflowId).replace('0.8', '0.95'));
    expect(other.rules[0].wouldDo).toBeLessThanOrEqual(expected.length);
    expect((await w.repos.resultsRules.get(w.collectionId))!.source).toBe(retireRules(w.workflowId));
  });

  it('undo removes a subject from the set and clears a flag, for good; a retirement cannot be undone', async () => {
    const { w, deps } = await setUp((x) => `${expertRules(x.expertSet)}  - id: retire-clear\n    task: T0\n    condition: [gte, [lookup, consensus.agreement, 0], [const, 0.9]]\n    effects:\n      - retire_subject: { reason: consensus }\n`);
    await applyResultRules(deps, w.collectionId);
    const rows = await ledger(w.collectionId);
    const move = rows.find((r) => r.kind === 'add_subject_to_set')!;
    const flag = rows.find((r) => r.kind === 'flag')!;
    const retire = rows.find((r) => r.kind === 'retire_subject')!;
    expect(double.server.setMembers(w.expertSet)).toContain(move.subject_id);

    const bob: Caller = { username: 'bob', roles: ['pi', 'reviewer'] };
    expect(await failure(undoEffect(deps, move.id, bob))).toBeInstanceOf(ForbiddenError);

    expect((await undoEffect(deps, move.id, alien)).state).toBe('undone');
    expect(double.server.setMembers(w.expertSet)).not.toContain(move.subject_id);
    expect((await undoEffect(deps, flag.id, alien)).state).toBe('undone');
    const e = await failure(undoEffect(deps, retire.id, alien));
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).toMatch(/cannot be un-retired: Panoptes offers no way to undo a retirement through its API/);
    expect(await failure(undoEffect(deps, move.id, alien))).toBeInstanceOf(ConflictError);

    // The rule still holds, but what was undone stays undone.
    const links = double.server.requestsTo('linkSubjects').length;
    await applyResultRules(deps, w.collectionId);
    expect(double.server.requestsTo('linkSubjects')).toHaveLength(links);
    expect(double.server.setMembers(w.expertSet)).not.toContain(move.subject_id);
    const audit = await t.db.selectFrom('audit_log').select(['actor', 'detail']).where('action', '=', 'result_effect_undone').where('collection_id', '=', w.collectionId).execute();
    expect(audit.map((a) => [a.actor, (a.detail as { effectId: string }).effectId]).sort()).toEqual([['alien', move.id], ['alien', flag.id]].sort());
  });
});
