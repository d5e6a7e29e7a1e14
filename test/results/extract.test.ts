import { describe, expect, it } from 'vitest';
import { extractClassification, volunteerKey, type Extract, type RawClassification, type WorkflowTasks } from '../../src/results/index.js';
import { generateClassifications, TASKS } from '../support/classifications.js';

const base = (annotations: unknown[], extra: Partial<RawClassification> = {}): RawClassification => ({
  id: '101',
  workflowId: '7',
  userId: '42',
  userName: 'ada',
  createdAt: '2025-01-01T00:00:00Z',
  subjectIds: ['9001'],
  annotations,
  ...extra,
});

const tasks: WorkflowTasks = {
  T0: { type: 'single', answers: [{ label: 'Yes' }, { label: 'No' }] },
  T1: { type: 'multiple', answers: [{ label: 'Arms' }, { label: 'Bar' }, { label: 'Ring' }] },
  T2: { type: 'drawing', tools: [{ type: 'point' }, { type: 'circle' }, { type: 'ellipse' }, { type: 'rectangle' }, { type: 'line' }] },
  T3: { type: 'dropdown' },
  T4: { type: 'survey' },
  T5: { type: 'shortcut', answers: [{ label: 'Nothing here' }] },
};

const strip = (e: Extract) => {
  const { volunteer: _v, createdAt: _c, ...rest } = e;
  return rest;
};

describe('volunteer identity', () => {
  it('is the user id, else the export name, else the classification', () => {
    expect(volunteerKey({ id: '1', userId: '42', userName: 'ada' })).toBe('user:42');
    expect(volunteerKey({ id: '1', userId: null, userName: 'not-logged-in-ab12' })).toBe('name:not-logged-in-ab12');
    expect(volunteerKey({ id: '1', userId: null, userName: null })).toBe('anon:1');
    // A user called "42" is not user 42.
    expect(volunteerKey({ id: '1', userId: null, userName: '42' })).not.toBe(volunteerKey({ id: '1', userId: '42', userName: null }));
  });
});

describe('question extraction', () => {
  it('turns stored-form indices into labels when the tasks are known', () => {
    const r = extractClassification(base([{ task: 'T0', value: 1 }, { task: 'T1', value: [0, 2] }, { task: 'T5', value: [0] }]), { tasks });
    expect(r.skipped).toEqual([]);
    expect(r.extracts.map((e) => (e.kind === 'question' ? [e.task, e.multiple, e.answers] : null))).toEqual([
      ['T0', false, ['No']],
      ['T1', true, ['Arms', 'Ring']],
      ['T5', true, ['Nothing here']],
    ]);
  });

  it('keeps export labels, and indices as strings without tasks', () => {
    expect(extractClassification(base([{ task: 'T0', task_label: 'Merger?', value: 'Yes' }]), { tasks }).extracts[0]).toMatchObject({ answers: ['Yes'] });
    expect(extractClassification(base([{ task: 'T0', value: 1 }])).extracts[0]).toMatchObject({ kind: 'question', answers: ['1'] });
    expect(extractClassification(base([{ task: 'T1', value: [2, 0] }])).extracts[0]).toMatchObject({ multiple: true, answers: ['2', '0'] });
  });

  it('an unanswered question is a classification with no answer', () => {
    expect(extractClassification(base([{ task: 'T0', value: null }]), { tasks }).extracts[0]).toMatchObject({ answers: [] });
  });

  it('one extract per subject of a multi-subject classification', () => {
    const r = extractClassification(base([{ task: 'T0', value: 0 }], { subjectIds: ['1', '2'] }), { tasks });
    expect(r.extracts.map((e) => e.subjectId)).toEqual(['1', '2']);
  });
});

describe('survey extraction', () => {
  it('gives one mark per choice with answers always as lists', () => {
    const r = extractClassification(base([{ task: 'T4', value: [{ choice: 'ZEBRA', answers: { HOWMANY: '2', BEHAVIOUR: ['EATING', 'MOVING'] }, filters: {} }, { choice: 'LION' }] }]), { tasks });
    expect(r.extracts[0]).toMatchObject({ kind: 'survey', choices: [{ choice: 'ZEBRA', answers: { HOWMANY: ['2'], BEHAVIOUR: ['EATING', 'MOVING'] } }, { choice: 'LION', answers: {} }] });
  });
});

describe('drawing extraction', () => {
  const marks = [
    { tool: 0, x: 10, y: 20, frame: 0, details: [] },
    { tool: 1, x: 30, y: 40, r: 5, frame: 1, details: [] },
    { tool: 2, x: 50, y: 60, rx: 8, ry: 4, angle: 30, frame: 0, details: [] },
    { tool: 3, x: 100, y: 100, width: 20, height: -10, frame: 0, details: [] },
    { tool: 4, x1: 0, y1: 0, x2: 5, y2: 5, frame: 0 },
  ];

  it('reads classic marks, rectangle centres, skips unsupported tools with a reason', () => {
    const r = extractClassification(base([{ task: 'T2', value: marks }]), { tasks });
    const d = r.extracts[0];
    expect(d.kind).toBe('drawing');
    if (d.kind !== 'drawing') return;
    expect(d.marks).toEqual([
      { tool: 0, toolType: 'point', frame: 0, x: 10, y: 20 },
      { tool: 1, toolType: 'circle', frame: 1, x: 30, y: 40, r: 5 },
      { tool: 2, toolType: 'ellipse', frame: 0, x: 50, y: 60, rx: 8, ry: 4, angle: 30 },
      { tool: 3, toolType: 'rectangle', frame: 0, x: 110, y: 95, width: 20, height: 10 },
    ]);
    expect(r.skipped).toEqual([{ classificationId: '101', task: 'T2', reason: 'unsupported tool type "line"' }]);
  });

  it('reads the newer classifier shapes (toolIndex, toolType, taskType) without the tasks', () => {
    const v2 = base(
      [{ task: 'T2', taskType: 'drawing', value: [{ toolIndex: 0, toolType: 'point', markIndex: 0, frame: 2, x: 1.5, y: 2.5, details: [] }, { toolIndex: 1, toolType: 'circle', markIndex: 1, frame: 0, x: 3, y: 4, r: 9 }] }],
      { metadata: { classifier_version: '2.0' } },
    );
    const d = extractClassification(v2).extracts[0];
    expect(d).toMatchObject({ kind: 'drawing', marks: [{ tool: 0, toolType: 'point', frame: 2, x: 1.5, y: 2.5 }, { tool: 1, toolType: 'circle', x: 3, y: 4, r: 9 }] });
  });

  it('maps mark centres to the sky with the caller-supplied function', () => {
    const sky = (x: number, y: number) => ({ ra: 150 + x / 3600, dec: 2 - y / 3600 });
    const d = extractClassification(base([{ task: 'T2', value: [marks[3]] }]), { tasks, skyFor: (s) => (s === '9001' ? sky : undefined) }).extracts[0];
    expect(d.kind === 'drawing' && d.marks[0].sky).toEqual({ ra: 150 + 110 / 3600, dec: 2 - 95 / 3600 });
  });
});

describe('what cannot be read is skipped with a reason, never thrown', () => {
  it('names unknown task types, malformed annotations and bad indices', () => {
    const r = extractClassification(
      base([{ task: 'T3', value: 'x' }, 'garbage', { value: 1 }, { task: 'T0', value: 7 }, { task: 'T0', value: { a: 1 } }, { task: 'T2', value: 'nope' }, { task: 'T9', value: [] }, { task: 'T1', value: [0] }]),
      { tasks },
    );
    expect(r.skipped.map((s) => [s.task, s.reason])).toEqual([
      ['T3', 'unknown task type "dropdown"'],
      [undefined, 'annotation is not an object'],
      [undefined, 'annotation has no task'],
      ['T0', 'answer index 7 out of range'],
      ['T0', 'answer is a object, not an index or a label'],
      ['T2', 'drawing value is not a list of marks'],
      ['T9', 'cannot tell the task type from the value'],
    ]);
    expect(r.extracts.map((e) => e.task)).toEqual(['T1']);
  });

  it('flattens combo tasks', () => {
    const r = extractClassification(base([{ task: 'T10', value: [{ task: 'T0', value: 0 }, { task: 'T1', value: [1] }] }]), { tasks: { ...tasks, T10: { type: 'combo' } } });
    expect(r.extracts.map((e) => [e.task, e.kind === 'question' && e.answers])).toEqual([
      ['T0', ['Yes']],
      ['T1', ['Bar']],
    ]);
  });
});

describe('API stored form and export form extract alike', () => {
  it('for every generated classification (indices + tasks == labels)', () => {
    const opts = { seed: 3, subjects: 12, perSubject: 6, volunteers: 20, anonymous: 0 };
    const api = [...generateClassifications(opts, 'api')];
    const exp = [...generateClassifications(opts, 'export')];
    expect(api.length).toBe(exp.length);
    for (let i = 0; i < api.length; i++) {
      const a = extractClassification(api[i], { tasks: TASKS });
      const b = extractClassification(exp[i], { tasks: TASKS });
      expect(a.skipped).toEqual([]);
      expect(a.extracts.map(strip)).toEqual(b.extracts.map(strip));
      expect(a.extracts[0]).toMatchObject({ kind: 'question' });
      expect(typeof (a.extracts[0] as { answers: string[] }).answers[0]).toBe('string');
    }
  });
});
