import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  dbscan,
  extractClassification,
  filterRepeats,
  pielouEvenness,
  reduceAll,
  reduceDrawing,
  reduceQuestion,
  type DrawingExtract,
  type DrawingReduction,
  type QuestionExtract,
  type QuestionReduction,
  type RawClassification,
  type SurveyReduction,
} from '../../src/results/index.js';
import { ANSWERS, generateClassifications, TASKS, truthOf, WORKFLOW_ID, type GeneratorOptions } from '../support/classifications.js';

const q = (id: string, volunteer: string, answers: string[], subjectId = 's1'): QuestionExtract => ({
  kind: 'question',
  multiple: false,
  classificationId: id,
  workflowId: 'w',
  subjectId,
  task: 'T0',
  volunteer,
  createdAt: `2025-01-01T00:00:${id.padStart(2, '0')}Z`,
  answers,
});

describe('Pielou evenness', () => {
  it('matches values computed by hand', () => {
    expect(pielouEvenness([3, 3])).toBeCloseTo(1, 12);
    expect(pielouEvenness([1, 1, 1, 1])).toBeCloseTo(1, 12);
    // H = -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 1.0397208, ln 3 = 1.0986123
    expect(pielouEvenness([2, 1, 1])).toBeCloseTo(1.0397207708 / 1.0986122887, 9);
    // 9 vs 1: H = 0.3250830, / ln 2
    expect(pielouEvenness([9, 1])).toBeCloseTo(0.3250829734 / 0.6931471806, 9);
    expect(pielouEvenness([0, 7, 0])).toBe(0); // one distinct answer: certain
    expect(pielouEvenness([])).toBeNull();
  });
});

describe('question reducers', () => {
  it('counts, fractions and consensus of a small example', () => {
    const r = reduceQuestion([q('1', 'a', ['Yes']), q('2', 'b', ['No']), q('3', 'c', ['Yes']), q('4', 'd', [])]);
    expect(r.counts).toEqual({ Yes: 2, No: 1 });
    expect(r.fractions).toEqual({ Yes: 0.5, No: 0.25 });
    expect(r.consensus).toEqual({ most_likely: 'Yes', num_votes: 2, agreement: 0.5, total_votes: 4 });
  });

  it('breaks ties by the workflow order, else string order, whatever the arrival order', () => {
    const xs = [q('1', 'a', ['No']), q('2', 'b', ['Yes'])];
    expect(reduceQuestion(xs, ['Yes', 'No']).consensus.most_likely).toBe('Yes');
    expect(reduceQuestion([...xs].reverse(), ['Yes', 'No']).consensus.most_likely).toBe('Yes');
    expect(reduceQuestion(xs).consensus.most_likely).toBe('No');
    expect(reduceQuestion([...xs].reverse()).consensus.most_likely).toBe('No');
    expect(reduceQuestion([]).consensus).toEqual({ most_likely: null, num_votes: 0, agreement: 0, total_votes: 0 });
  });

  it('answer labels that are Object.prototype names are counted like any other', () => {
    const r = reduceQuestion([q('1', 'a', ['__proto__']), q('2', 'b', ['constructor']), q('3', 'c', ['__proto__'])]);
    expect(r.consensus.most_likely).toBe('__proto__');
    expect(Object.entries(r.counts)).toEqual([['__proto__', 2], ['constructor', 1]]);
  });
});

describe('repeat filtering', () => {
  const xs = [q('5', 'a', ['No']), q('3', 'a', ['Yes']), q('9', 'a', ['Not sure']), q('4', 'b', ['Yes']), q('10', 'a', ['Yes'], 's2')];
  it('keeps the first, the last or all per subject and volunteer, by id', () => {
    expect(filterRepeats(xs, 'first').map((x) => x.classificationId)).toEqual(['3', '4', '10']);
    expect(filterRepeats(xs, 'last').map((x) => x.classificationId)).toEqual(['4', '9', '10']);
    expect(filterRepeats(xs, 'all').map((x) => x.classificationId)).toEqual(['3', '4', '5', '9', '10']);
  });
  it('or by created_at', () => {
    const ys = [{ ...xs[0], createdAt: '2025-01-01T00:00:00Z' }, ...xs.slice(1)];
    expect(filterRepeats(ys, 'first', 'createdAt').map((x) => x.classificationId)).toEqual(['5', '4', '10']);
  });
});

describe('DBSCAN', () => {
  it('finds dense groups, labels the rest noise, honours eps and min_samples', () => {
    const xs = [0, 1, 0, 50, 51, 50.5, 200];
    const ys = [0, 0, 1, 50, 50, 51, 200];
    expect([...dbscan(xs, ys, { eps: 5, minSamples: 3 })]).toEqual([0, 0, 0, 1, 1, 1, -1]);
    expect([...dbscan(xs, ys, { eps: 5, minSamples: 4 })]).toEqual([-1, -1, -1, -1, -1, -1, -1]);
    expect([...dbscan(xs, ys, { eps: 100, minSamples: 3 })]).toEqual([0, 0, 0, 0, 0, 0, -1]);
  });
  it('labels a large set (neighbours from a grid) exactly as a direct all-pairs DBSCAN does', () => {
    // 400 points in 12 tight groups plus scatter: above the size where every pair is compared.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < 400; i++) {
      const g = i % 13;
      xs.push(g === 12 ? rand() * 500 : 40 * g + rand() * 6);
      ys.push(g === 12 ? rand() * 500 : 30 * (g % 4) + rand() * 6);
    }
    const opts = { eps: 5, minSamples: 3 };
    const reference = textbookDbscan(xs, ys, opts);
    const got = [...dbscan(xs, ys, opts)];
    expect(got).toEqual(reference);
    expect(new Set(got.filter((l) => l >= 0)).size).toBeGreaterThanOrEqual(12);
  });
  it('labels small sets (every pair compared) exactly as the textbook algorithm does, whatever eps and minSamples', () => {
    const point = fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }));
    fc.assert(
      fc.property(fc.array(point, { maxLength: 64 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 6 }), (pts, eps, minSamples) => {
        const xs = pts.map((p) => p[0]);
        const ys = pts.map((p) => p[1]);
        expect([...dbscan(xs, ys, { eps, minSamples })]).toEqual(textbookDbscan(xs, ys, { eps, minSamples }));
      }),
      { numRuns: 300 },
    );
  });

  it('joins a border point to the cluster that reaches it', () => {
    // 0..2 are core; 3 is 4.5 from point 2 but has only 2 neighbours itself.
    expect([...dbscan([0, 1, 2, 6.5], [0, 0, 0, 0], { eps: 4.5, minSamples: 3 })]).toEqual([0, 0, 0, 0]);
  });
});

describe('shape clusters', () => {
  const d = (id: string, marks: DrawingExtract['marks']): DrawingExtract => ({ kind: 'drawing', classificationId: id, workflowId: 'w', subjectId: 's', task: 'T2', volunteer: id, createdAt: '', marks });
  it('average the shape parameters, the ellipse angle as an axis', () => {
    const r = reduceDrawing(
      [
        d('1', [{ tool: 0, toolType: 'ellipse', frame: 0, x: 10, y: 10, rx: 4, ry: 2, angle: 179 }, { tool: 1, toolType: 'rectangle', frame: 0, x: 100, y: 100, width: 10, height: 20 }]),
        d('2', [{ tool: 0, toolType: 'ellipse', frame: 0, x: 11, y: 10, rx: 6, ry: 2, angle: 1 }, { tool: 1, toolType: 'rectangle', frame: 0, x: 102, y: 100, width: 14, height: 20 }]),
        d('3', [{ tool: 0, toolType: 'ellipse', frame: 0, x: 12, y: 10, rx: 5, ry: 2, angle: 0 }, { tool: 1, toolType: 'rectangle', frame: 0, x: 101, y: 103, width: 12, height: 23 }]),
      ],
      { eps: 5, minSamples: 3 },
      (x, y) => ({ ra: x, dec: -y }),
    );
    const [ell, rect] = r.tools;
    expect(ell.clusters).toHaveLength(1);
    expect(ell.clusters[0]).toMatchObject({ x: 11, y: 10, count: 3, rx: 5, ry: 2, stdX: 1, stdY: 0, sky: { ra: 11, dec: -10 } });
    expect(ell.clusters[0].angle).toBeCloseTo(0, 9);
    expect(rect.clusters[0]).toMatchObject({ x: 101, y: 101, width: 12, height: 21, count: 3 });
  });
});

/** Everything a test needs from the generator, reduced the straightforward way. */
function generated(o: GeneratorOptions): RawClassification[] {
  return [...generateClassifications(o)];
}

describe('reductions of generated classifications, against counting done here', () => {
  const o: GeneratorOptions = { seed: 11, subjects: 20, perSubject: 25, volunteers: 60, anonymous: 0.15, repeats: 0.15, sigma: [0.5, 1.5] };
  const cs = generated(o);
  const out = reduceAll(cs, { workflows: { [WORKFLOW_ID]: TASKS } });

  // The independent count: numeric id order, first classification per (subject, volunteer key built here).
  const firsts = new Map<string, RawClassification>();
  for (const c of [...cs].sort((a, b) => Number(a.id) - Number(b.id))) {
    const who = c.userId ?? c.userName ?? `c${c.id}`;
    const k = `${c.subjectIds[0]}|${who}`;
    if (!firsts.has(k)) firsts.set(k, c);
  }
  const bySubject = new Map<string, RawClassification[]>();
  for (const c of firsts.values()) bySubject.set(c.subjectIds[0], [...(bySubject.get(c.subjectIds[0]) ?? []), c]);

  it('has repeats and anonymous volunteers to filter', () => {
    expect(cs.length).toBeGreaterThan(firsts.size);
    expect(cs.some((c) => c.userId === null)).toBe(true);
  });

  it('question counts, consensus and evenness', () => {
    expect(out.skipped).toEqual([]);
    for (const s of out.subjects) {
      const mine = bySubject.get(s.subjectId)!;
      const tally: Record<string, number> = {};
      for (const c of mine) {
        const v = (c.annotations[0] as { value: number }).value;
        tally[ANSWERS[v]] = (tally[ANSWERS[v]] ?? 0) + 1;
      }
      const t0 = s.tasks.T0 as QuestionReduction;
      expect(s.classifications).toBe(mine.length);
      expect({ ...t0.counts }).toEqual(tally);
      const best = Object.entries(tally).sort((a, b) => b[1] - a[1] || ANSWERS.indexOf(a[0] as never) - ANSWERS.indexOf(b[0] as never))[0];
      expect(t0.consensus).toEqual({ most_likely: best[0], num_votes: best[1], agreement: best[1] / mine.length, total_votes: mine.length });
      const ps = Object.values(tally).map((n) => n / mine.length);
      const expected = ps.length === 1 ? 0 : -ps.reduce((h, p) => h + p * Math.log(p), 0) / Math.log(ps.length);
      expect(t0.evenness).toBeCloseTo(expected, 12);
      // Skilled volunteers: the consensus is the truth.
      expect(t0.consensus.most_likely).toBe(ANSWERS[truthOf(o.seed, Number(s.subjectId) - 100000).answer]);
    }
  });

  it('survey counts', () => {
    for (const s of out.subjects) {
      const mine = bySubject.get(s.subjectId)!;
      const t1 = s.tasks.T1 as SurveyReduction;
      for (const choice of t1.choices) {
        const with_ = mine.filter((c) => (c.annotations[1] as { value: { choice: string }[] }).value.some((m) => m.choice === choice.choice));
        expect(choice.total_vote_count).toBe(mine.length);
        expect(choice.choice_count).toBe(with_.length);
        const hm: Record<string, number> = {};
        for (const c of with_) {
          const a = (c.annotations[1] as { value: { answers: { HOWMANY: string } }[] }).value[0].answers.HOWMANY;
          hm[a] = (hm[a] ?? 0) + 1;
        }
        expect({ ...choice.answers_HOWMANY }).toEqual(hm);
      }
      const totalMarks = t1.choices.reduce((n, c) => n + c.choice_count, 0);
      expect(totalMarks).toBe(mine.length);
      expect(t1.choices[0].choice).toBe(truthOf(o.seed, Number(s.subjectId) - 100000).choice);
    }
  });

  it('point clusters within 1 px of the truth, one per true object', () => {
    for (const s of out.subjects) {
      const truth = truthOf(o.seed, Number(s.subjectId) - 100000);
      const t2 = s.tasks.T2 as DrawingReduction;
      const clusters = t2.tools[0].clusters;
      expect(clusters).toHaveLength(truth.points.length);
      for (const p of truth.points) {
        const nearest = Math.min(...clusters.map((c) => Math.hypot(c.x - p.x, c.y - p.y)));
        expect(nearest).toBeLessThan(1);
      }
      const marks = bySubject.get(s.subjectId)!.reduce((n, c) => n + (c.annotations[2] as { value: unknown[] }).value.length, 0);
      expect(t2.tools[0].marks).toBe(marks);
      expect(t2.tools[0].noise + clusters.reduce((n, c) => n + c.count, 0)).toBe(marks);
    }
  });

  it('"last" and "all" count what they say', () => {
    const all = reduceAll(cs, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'all' });
    const last = reduceAll(cs, { workflows: { [WORKFLOW_ID]: TASKS }, repeats: 'last' });
    for (const s of all.subjects) expect(s.classifications).toBe(cs.filter((c) => c.subjectIds[0] === s.subjectId).length);
    const lasts = new Map<string, RawClassification>();
    for (const c of [...cs].sort((a, b) => Number(a.id) - Number(b.id))) lasts.set(`${c.subjectIds[0]}|${c.userId ?? c.userName ?? `c${c.id}`}`, c);
    for (const s of last.subjects) {
      const mine = [...lasts.values()].filter((c) => c.subjectIds[0] === s.subjectId);
      const yes = mine.filter((c) => (c.annotations[0] as { value: number }).value === 0).length;
      expect((s.tasks.T0 as QuestionReduction).counts.Yes ?? 0).toBe(yes);
    }
  });

  it('extracts are never thrown on: an unknown task type in every classification is skipped and counted', () => {
    const bad = cs.slice(0, 10).map((c) => ({ ...c, annotations: [...c.annotations, { task: 'T7', taskType: 'dropdown-simple', value: [{ option: true }] }] }));
    const r = reduceAll(bad, { workflows: { [WORKFLOW_ID]: TASKS } });
    expect(r.skipped).toHaveLength(10);
    expect(r.skipped[0].reason).toBe('unknown task type "dropdown-simple"');
    expect(extractClassification(bad[0], { tasks: TASKS }).extracts).toHaveLength(3);
  });
});

/** The textbook algorithm, every pair compared, every reach queued, neighbours in input order. */
function textbookDbscan(xs: number[], ys: number[], opts: { eps: number; minSamples: number }): number[] {
  const labels = new Array<number>(xs.length).fill(-2);
  const nb = (i: number) => xs.map((_, j) => j).filter((j) => (xs[j] - xs[i]) ** 2 + (ys[j] - ys[i]) ** 2 <= opts.eps ** 2);
  let next = 0;
  for (let i = 0; i < xs.length; i++) {
    if (labels[i] !== -2) continue;
    const n0 = nb(i);
    if (n0.length < opts.minSamples) {
      labels[i] = -1;
      continue;
    }
    const id = next++;
    labels[i] = id;
    for (let q = 0; q < n0.length; q++) {
      const j = n0[q];
      if (labels[j] === -1) labels[j] = id;
      if (labels[j] !== -2) continue;
      labels[j] = id;
      const nj = nb(j);
      if (nj.length >= opts.minSamples) for (const k of nj) if (labels[k] < 0) n0.push(k);
    }
  }
  return labels;
}
