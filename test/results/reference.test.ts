import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reduceAll, type QuestionReduction, type RawClassification, type SurveyReduction } from '../../src/results/index.js';
import { ANSWERS, exportCsvText, generateClassifications, TASKS, WORKFLOW_ID } from '../support/classifications.js';
import { pythonWith } from '../support/python.js';

const SCRIPT = join(import.meta.dirname, '../fixtures/results/reference_reduce.py');
const python = pythonWith(['numpy']);

interface Reference {
  question: { counts: Record<string, number>; consensus: QuestionReduction['consensus']; evenness: number | null };
  survey: Record<string, unknown>[];
}

describe.skipIf(!python)('reductions agree with an independent numpy reference', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'results-ref-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('question counts, consensus, evenness and survey counts, subject by subject', async () => {
    const cs: RawClassification[] = [...generateClassifications({ seed: 8, subjects: 40, perSubject: 9, volunteers: 30, repeats: 0.2, anonymous: 0.2, skill: [0.4, 0.8] }, 'export')];
    // Shuffle the rows: the export is not promised sorted, both sides must sort.
    cs.sort((a, b) => ((Number(a.id) * 2654435761) % 1009) - ((Number(b.id) * 2654435761) % 1009));
    const file = join(dir, 'export.csv');
    await writeFile(file, exportCsvText(cs));
    const r = spawnSync(python!, [SCRIPT, file, '--answers', ANSWERS.join('|')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const ref = JSON.parse(r.stdout) as Record<string, Reference>;

    const ours = reduceAll(cs, { workflows: { [WORKFLOW_ID]: TASKS } });
    expect(ours.subjects.map((s) => s.subjectId).sort()).toEqual(Object.keys(ref).sort());
    let ties = 0;
    for (const s of ours.subjects) {
      const q = s.tasks.T0 as QuestionReduction;
      const want = ref[s.subjectId];
      expect({ ...q.counts }).toEqual(want.question.counts);
      expect(q.consensus.most_likely).toBe(want.question.consensus.most_likely);
      expect(q.consensus.num_votes).toBe(want.question.consensus.num_votes);
      expect(q.consensus.total_votes).toBe(want.question.consensus.total_votes);
      expect(q.consensus.agreement).toBeCloseTo(want.question.consensus.agreement, 12);
      expect(q.evenness).toBeCloseTo(want.question.evenness!, 12);
      const counts = Object.values(q.counts);
      if (counts.filter((c) => c === counts[0]).length > 1) ties++;
      const sv = s.tasks.T1 as SurveyReduction;
      expect(sv.choices.map((c) => ({ ...c, answers_HOWMANY: { ...c.answers_HOWMANY } }))).toEqual(want.survey);
    }
    // Low-skill volunteers: the comparison exercised tie-breaking too.
    expect(ties).toBeGreaterThan(0);
  });
});
