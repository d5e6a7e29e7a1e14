import { describe, expect, it } from 'vitest';
import { bayes, reduceAll, RunningReducer, type RawClassification, type SwapOptions } from '../../src/results/index.js';

let nextId = 1;
const c = (user: string, subject: string, answer: 'Yes' | 'No' | 'Not sure'): RawClassification => ({
  id: String(nextId++),
  workflowId: 'w',
  userId: user,
  userName: null,
  createdAt: '2025-01-01T00:00:00Z',
  subjectIds: [subject],
  annotations: [{ task: 'T0', value: answer }],
});

const swap: SwapOptions = {
  task: 'T0',
  yes: 'Yes',
  no: 'No',
  prior: 0.2,
  detect: 0.95,
  reject: 0.01,
  goldTruth: (s) => (s === 'G1' ? true : s === 'G2' ? false : undefined),
};

describe('SWAP', () => {
  it('Bayes update as written in swap.ts', () => {
    // An uninformative volunteer (0.5, 0.5) leaves the posterior alone.
    expect(bayes(0.2, true, { sYes: 0.5, sNo: 0.5 })).toBeCloseTo(0.2, 15);
    expect(bayes(0.2, true, { sYes: 0.9, sNo: 0.8 })).toBeCloseTo((0.9 * 0.2) / (0.9 * 0.2 + 0.2 * 0.8), 15);
  });

  it('matches a small example computed by hand', () => {
    nextId = 1;
    const cs = [
      c('A', 'G1', 'Yes'), // A right on a gold yes:  A S_yes = (1 + 1) / (1 + 2) = 2/3
      c('A', 'G2', 'No'), //  A right on a gold no:   A S_no  = 2/3
      c('C', 'G1', 'No'), //  C wrong on a gold yes:  C S_yes = (0 + 1) / (1 + 2) = 1/3, S_no = 1/2
      c('A', 'S', 'Yes'), //  p = (2/3 * 0.2) / (2/3 * 0.2 + 1/3 * 0.8) = 1/3
      c('B', 'S', 'No'), //   B untrained: p stays 1/3
      c('C', 'S', 'No'), //   p = (2/3 * 1/3) / (2/3 * 1/3 + 1/2 * 2/3) = 0.4 (a volunteer who says "no" to lenses: "no" is weak evidence)
      c('D', 'S', 'Not sure'), // neither yes nor no: ignored
      c('A', 'S', 'No'), //   a repeat: dropped by "first"
    ];
    const r = reduceAll(cs, { swap });
    const s = r.subjects.find((x) => x.subjectId === 'S')!;
    expect(s.swap!.probability).toBeCloseTo(0.4, 14);
    expect(s.swap).toMatchObject({ status: 'undecided', classifications: 3, yes_fraction: 1 / 3 });
    // On the gold subjects the posterior moved only by untrained answers: it stays at the prior.
    expect(r.subjects.find((x) => x.subjectId === 'G1')!.swap).toMatchObject({ probability: 0.2, gold: true });

    const running = new RunningReducer({ swap });
    running.applyAll(cs);
    expect(running.reduction('w/S')!.swap).toEqual(s.swap);
  });

  it('detects and rejects at the thresholds', () => {
    nextId = 100;
    const cs: RawClassification[] = [];
    // Ten volunteers each right on 8 gold yes and 8 gold no subjects: S_yes = S_no = 9/10.
    for (let v = 0; v < 10; v++) {
      for (let k = 0; k < 8; k++) cs.push(c(`v${v}`, `GY${k}`, 'Yes'), c(`v${v}`, `GN${k}`, 'No'));
    }
    for (let v = 0; v < 4; v++) cs.push(c(`v${v}`, 'LENS', 'Yes'), c(`v${v}`, 'EMPTY', 'No'));
    const truth = (s: string) => (s.startsWith('GY') ? true : s.startsWith('GN') ? false : undefined);
    const r = reduceAll(cs, { swap: { ...swap, goldTruth: truth } });
    const lens = r.subjects.find((x) => x.subjectId === 'LENS')!.swap!;
    const empty = r.subjects.find((x) => x.subjectId === 'EMPTY')!.swap!;
    // Odds 0.25 * 9^4 = 1640.25 -> p = 0.99939; odds 0.25 / 9^4 -> p = 3.81e-5
    expect(lens.probability).toBeCloseTo(1640.25 / 1641.25, 12);
    expect(lens.status).toBe('detected');
    expect(empty.probability).toBeCloseTo(0.25 / 6561 / (1 + 0.25 / 6561), 14);
    expect(empty.status).toBe('rejected');
  });

  it('refuses repeats "last"', () => {
    expect(() => new RunningReducer({ swap, repeats: 'last' })).toThrow(/SWAP cannot run with repeats "last"/);
  });
});
