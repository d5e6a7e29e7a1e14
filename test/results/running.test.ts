import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reduceAll, RunningReducer, type RawClassification, type ReduceOptions, type RepeatMode } from '../../src/results/index.js';
import { generateClassifications, TASKS, WORKFLOW_ID } from '../support/classifications.js';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function incremental(cs: RawClassification[], cuts: number[], options: ReduceOptions): unknown {
  let stored: string | undefined;
  let from = 0;
  for (const to of [...cuts, cs.length]) {
    // Each chunk starts from the state as a database would give it back.
    const r = stored === undefined ? new RunningReducer(options) : RunningReducer.fromJSON(JSON.parse(stored), options);
    r.applyAll(cs.slice(from, to));
    stored = JSON.stringify(r);
    from = to;
  }
  return plain(RunningReducer.fromJSON(stored!, options).reductions());
}

describe('running reduction', () => {
  it('applied in k chunks, reloading the stored state each time, equals the full recompute', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e6 }),
        fc.constantFrom<RepeatMode>('first', 'last', 'all'),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (seed, repeats, cutFractions) => {
          const cs = [...generateClassifications({ seed, subjects: 6, perSubject: 8, volunteers: 14, repeats: 0.3, anonymous: 0.2, classifierV2: 0.3 })];
          const cuts = [...new Set(cutFractions.map((f) => Math.floor(f * cs.length)))].sort((a, b) => a - b);
          const options: ReduceOptions = {
            workflows: { [WORKFLOW_ID]: TASKS },
            repeats,
            dbscan: { eps: 4, minSamples: 2 },
            swap: repeats === 'last' ? undefined : { task: 'T0', yes: 'Yes', no: 'No', prior: 0.3, goldTruth: (s) => (s === '100000' ? true : s === '100001' ? false : undefined) },
          };
          expect(incremental(cs, cuts, options)).toEqual(plain(reduceAll(cs, options).subjects));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('ignores a re-delivered chunk and counts it', () => {
    const cs = [...generateClassifications({ seed: 5, subjects: 5, perSubject: 5, volunteers: 10 })];
    const options: ReduceOptions = { workflows: { [WORKFLOW_ID]: TASKS } };
    const r = new RunningReducer(options);
    r.applyAll(cs);
    const before = plain(r.reductions());
    r.applyAll(cs.slice(10, 20));
    expect(plain(r.reductions())).toEqual(before);
    expect(r.state.totals.stale).toBe(10);
    const all = new RunningReducer({ ...options, repeats: 'all' });
    all.applyAll(cs);
    all.applyAll(cs.slice(3, 7));
    expect(plain(all.reductions())).toEqual(plain(reduceAll(cs, { ...options, repeats: 'all' }).subjects));
  });

  it('reports the subjects a classification changed, and takeDirty gives each once', () => {
    const cs = [...generateClassifications({ seed: 6, subjects: 3, perSubject: 2, volunteers: 5, repeats: 0 })];
    const r = new RunningReducer({ workflows: { [WORKFLOW_ID]: TASKS } });
    expect(r.apply(cs[0]).subjects).toEqual([`${WORKFLOW_ID}/${cs[0].subjectIds[0]}`]);
    r.applyAll(cs.slice(1));
    expect(r.takeDirty().sort()).toEqual(['2001/100000', '2001/100001', '2001/100002']);
    expect(r.takeDirty()).toEqual([]);
  });

  it('keeps counts of skipped annotations by reason in the state', () => {
    const r = new RunningReducer();
    r.apply({ id: '1', workflowId: 'w', userId: '1', userName: null, createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T1', taskType: 'dropdown-simple', value: [] }, { task: 'T0', value: 'Yes' }] });
    expect(r.state.totals.reasons).toEqual({ 'unknown task type "dropdown-simple"': 1 });
    expect(r.reduction('w/s')!.tasks.T0).toMatchObject({ counts: { Yes: 1 } });
  });

  it('stored states are safe with hostile keys and refuse another repeat mode', () => {
    const r = new RunningReducer();
    r.apply({ id: '1', workflowId: 'w', userId: null, userName: '__proto__', createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: '__proto__' }] });
    const back = RunningReducer.fromJSON(JSON.stringify(r));
    back.apply({ id: '2', workflowId: 'w', userId: null, userName: 'x', createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: '__proto__' }] });
    expect(back.reduction('w/s')!.tasks.T0).toMatchObject({ counts: { ['__proto__']: 2 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => RunningReducer.fromJSON(JSON.stringify(r), { repeats: 'all' })).toThrow(/repeats "first"/);
    expect(() => RunningReducer.fromJSON('{"version":2}')).toThrow(/not a results state/);
  });

  it('stores kept volunteers as a flat list and still reads states that keyed them by volunteer', () => {
    const c = (id: string, user: string, answer: string): RawClassification => ({ id, workflowId: 'w', userId: user, userName: null, createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: answer }] });
    const r = new RunningReducer();
    r.applyAll([c('1', '7', 'Yes'), c('2', '8', 'No')]);
    const stored = JSON.parse(JSON.stringify(r.state.subjects['w/s'])) as Record<string, unknown>;
    expect(stored.kept).toEqual(['user:7', '1', 'user:8', '2']);
    // The same subject as first written: kept as an object volunteer -> id.
    const old = { ...stored, kept: { 'user:7': '1', 'user:8': '2' } };
    for (const subject of [stored, old]) {
      const back = RunningReducer.fromJSON({ ...JSON.parse(JSON.stringify(r.state)), subjects: { 'w/s': subject } });
      back.applyAll([c('3', '7', 'No'), c('4', '9', 'No')]); // user 7 again: a repeat, not counted
      expect(back.state.totals.repeats).toBe(1);
      expect(back.reduction('w/s')!.tasks.T0).toMatchObject({ counts: { Yes: 1, No: 2 } });
    }
  });

  it('catches repeats on a subject with many volunteers, before and after a reload', () => {
    const c = (id: number, user: number): RawClassification => ({ id: String(id), workflowId: 'w', userId: String(user), userName: null, createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: 'Yes' }] });
    const r = new RunningReducer();
    for (let u = 0; u < 150; u++) r.apply(c(u + 1, u));
    for (let u = 0; u < 150; u += 3) r.apply(c(1000 + u, u)); // 50 repeats
    const back = RunningReducer.fromJSON(JSON.stringify(r));
    for (let u = 1; u < 150; u += 3) back.apply(c(2000 + u, u)); // 50 more
    back.apply(c(3000, 500)); // a new volunteer
    expect(back.state.totals.repeats).toBe(100);
    expect(back.reduction('w/s')!.classifications).toBe(151);
  });
});
