import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reduceAll, RunningReducer, type DrawingReduction, type RawClassification, type ReduceOptions, type RepeatMode } from '../../src/results/index.js';
import { generateClassifications, TASKS, WORKFLOW_ID } from '../support/classifications.js';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function incremental(cs: RawClassification[], cuts: number[], options: ReduceOptions): unknown {
  let stored: string | undefined;
  let from = 0;
  let chunk = 0;
  for (const to of [...cuts, cs.length]) {
    // Each chunk starts from the state as a database would give it back, copied or adopted (as the service does).
    const read = chunk++ % 2 === 0 ? RunningReducer.fromJSON : RunningReducer.adopt;
    const r = stored === undefined ? new RunningReducer(options) : read(JSON.parse(stored), options);
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
    // Read back from text, from a parsed value (copied), and adopted (the parsed value itself, made to inherit nothing).
    for (const read of [() => RunningReducer.fromJSON(JSON.stringify(r)), () => RunningReducer.fromJSON(JSON.parse(JSON.stringify(r))), () => RunningReducer.adopt(JSON.parse(JSON.stringify(r)))]) {
      const back = read();
      back.apply({ id: '2', workflowId: 'w', userId: null, userName: 'x', createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: '__proto__' }, { task: 'constructor', value: 'toString' }] });
      expect(back.reduction('w/s')!.tasks.T0).toMatchObject({ counts: { ['__proto__']: 2 } });
      expect(back.reduction('w/s')!.tasks.constructor).toMatchObject({ counts: { toString: 1 } });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => RunningReducer.fromJSON(JSON.stringify(r), { repeats: 'all' })).toThrow(/repeats "first"/);
    expect(() => RunningReducer.fromJSON('{"version":2}')).toThrow(/not a results state/);
  });

  it('stores kept volunteers as a flat packed list and still reads states that keyed them by volunteer or held strings', () => {
    const c = (id: string, user: string, answer: string): RawClassification => ({ id, workflowId: 'w', userId: user, userName: null, createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T0', value: answer }] });
    const r = new RunningReducer();
    r.applyAll([c('1', '7', 'Yes'), c('2', '8', 'No')]);
    const stored = JSON.parse(JSON.stringify(r.state.subjects['w/s'])) as Record<string, unknown>;
    // Packed: logged-in volunteers and Panoptes ids as numbers.
    expect(stored.kept).toEqual([7, 1, 8, 2]);
    // The same subject as first written: kept as an object volunteer -> id; then as a list of strings.
    const old = { ...stored, kept: { 'user:7': '1', 'user:8': '2' } };
    const strings = { ...stored, kept: ['user:7', '1', 'user:8', '2'] };
    for (const subject of [stored, old, strings]) {
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

  it('stores marks in thousandths of a pixel, reduces them as given to that precision, and still reads full-precision sets', () => {
    const options: ReduceOptions = { workflows: { w: { T2: { type: 'drawing', tools: [{ type: 'circle' }] } } }, dbscan: { eps: 5, minSamples: 2 } };
    const c = (id: string, user: string, x: number, y: number, r: number): RawClassification => ({ id, workflowId: 'w', userId: user, userName: null, createdAt: '', subjectIds: ['s'], annotations: [{ task: 'T2', value: [{ tool: 0, x, y, r, frame: 0 }] }] });
    const reducer = new RunningReducer(options);
    reducer.applyAll([c('1', '1', 96.1677215961441, 247.08431587972032, 3.25), c('2', '2', 93.65223945976626, 246.97195208428835, 4.75)]);
    const stored = JSON.parse(JSON.stringify(reducer.state)) as { subjects: Record<string, { tasks: { T2: { sets: Record<string, unknown> } } }> };
    expect(stored.subjects['w/s'].tasks.T2.sets['0:0']).toEqual({ frame: 0, tool: 0, toolType: 'circle', v: [96168, 247084, 3250, 93652, 246972, 4750], ids: [1, 2], scale: 1000 });
    const cluster = (r: RunningReducer) => (r.reduction('w/s')!.tasks.T2 as DrawingReduction).tools[0].clusters[0];
    expect(cluster(reducer).x).toBeCloseTo((96.1677215961441 + 93.65223945976626) / 2, 3);
    expect(cluster(reducer)).toMatchObject({ count: 2, r: 4 });
    // A set stored before marks were scaled: plain numbers, no `scale`; more marks join it as plain numbers.
    const old = JSON.parse(JSON.stringify(stored)) as typeof stored;
    old.subjects['w/s'].tasks.T2.sets['0:0'] = { frame: 0, tool: 0, toolType: 'circle', v: [96.1677215961441, 247.08431587972032, 3.25], ids: ['1'] };
    const back = RunningReducer.fromJSON(old, options);
    back.apply(c('3', '3', 93.65223945976626, 246.97195208428835, 4.75));
    expect(cluster(back).x).toBe((96.1677215961441 + 93.65223945976626) / 2);
    expect((JSON.parse(JSON.stringify(back.state)) as typeof stored).subjects['w/s'].tasks.T2.sets['0:0']).not.toHaveProperty('scale');
    // The stored value handed in is left as it was (the reducer works on its own copy).
    expect(old.subjects['w/s'].tasks.T2.sets['0:0']).toMatchObject({ ids: ['1'] });
  });
});
