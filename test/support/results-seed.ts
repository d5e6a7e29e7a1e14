import type { Db } from '../../src/db/database.js';
import { reduceAll, type QuestionReduction, type SubjectReduction } from '../../src/results/index.js';
import { generateClassifications, subjectIdOf, TASKS, WORKFLOW_ID } from './classifications.js';

/**
 * The results tables as helper A's reduction job and helper B's rules job
 * leave them, for tests of what the PI reads: synthetic classifications of
 * the given images (subject n <-> images[n]) reduced with reduceAll, one
 * `reductions` row per subject, the workflow's task definitions, and
 * result_effects: a done retirement ("consensus") when T0's agreement is at
 * least `retireAt`, a done "ambiguous" flag below `flagBelow`, and for the
 * first flagged subject also a failed retirement (which must not count).
 */
export interface SeededResults {
  reductions: SubjectReduction[];
  /** Zooniverse subject id -> bridge image id. */
  imageOf: Map<string, string>;
  retired: Map<string, string>;
  flagged: Map<string, string[]>;
}

export interface SeedOptions {
  seed?: number;
  perSubject?: number;
  retireAt?: number;
  flagBelow?: number;
  /** First Zooniverse subject number (subjects are subjectIdOf(first + n)). */
  first?: number;
  /** Positions of the images, for cluster sky positions (degrees per display pixel: 0.2"). */
  positions?: Map<string, { ra: number | null; dec: number | null }>;
}

export async function seedResults(db: Db, collectionId: string, imageIds: string[], o: SeedOptions = {}): Promise<SeededResults> {
  const seed = o.seed ?? 8;
  const first = o.first ?? 0;
  const all = [...generateClassifications({ seed, subjects: first + imageIds.length, perSubject: o.perSubject ?? 9, volunteers: 40, repeats: 0.05, skill: [0.3, 0.95] })];
  const imageOf = new Map(imageIds.map((id, n) => [subjectIdOf(first + n), id]));
  const mine = all.filter((c) => c.subjectIds.some((s) => imageOf.has(s)));
  const { subjects } = reduceAll(mine, {
    workflows: { [WORKFLOW_ID]: TASKS },
    swap: { task: 'T0', yes: 'Yes', no: 'No' },
    skyFor: (sid) => {
      const p = o.positions?.get(imageOf.get(sid) ?? '');
      if (!p || p.ra === null || p.dec === null) return undefined;
      const { ra, dec } = p;
      return (x, y) => ({ ra: ra - ((x - 200) * 0.2) / 3600, dec: dec - ((y - 200) * 0.2) / 3600 });
    },
  });
  await db
    .insertInto('workflows')
    .values({ workflow_id: WORKFLOW_ID, project_id: '1', version: '12.3', display_name: 'Mergers', tasks: JSON.stringify(TASKS) })
    .onConflict((oc) => oc.column('workflow_id').doNothing())
    .execute();
  const retired = new Map<string, string>();
  const flagged = new Map<string, string[]>();
  let failedOne = false;
  for (const s of subjects) {
    const t0 = s.tasks.T0 as QuestionReduction | undefined;
    const throughId = Math.max(...mine.filter((c) => c.subjectIds.includes(s.subjectId)).map((c) => Number(c.id)));
    await db
      .insertInto('reductions')
      .values({
        workflow_id: s.workflowId,
        subject_id: s.subjectId,
        collection_id: collectionId,
        image_id: imageOf.get(s.subjectId)!,
        state: JSON.stringify({}),
        result: JSON.stringify(s),
        classifications: s.classifications,
        through_id: String(throughId),
        task: t0 ? 'T0' : null,
        most_likely: t0?.consensus.most_likely ?? null,
        agreement: t0?.consensus.agreement ?? null,
        swap_probability: s.swap?.probability ?? null,
      })
      .execute();
    const base = { collection_id: collectionId, workflow_id: s.workflowId, subject_id: s.subjectId, image_id: imageOf.get(s.subjectId)! };
    const agreement = t0?.consensus.agreement ?? 0;
    if (agreement >= (o.retireAt ?? 0.75)) {
      await db.insertInto('result_effects').values({ ...base, rule_id: 'retire-on-consensus', kind: 'retire_subject', target: 'consensus', state: 'done', attempts: 1, done_at: new Date() }).execute();
      retired.set(s.subjectId, 'consensus');
    } else if (agreement < (o.flagBelow ?? 0.6)) {
      await db.insertInto('result_effects').values({ ...base, rule_id: 'ambiguous-to-experts', kind: 'flag', target: '', state: 'done', detail: JSON.stringify({ label: 'ambiguous' }), attempts: 1, done_at: new Date() }).execute();
      flagged.set(s.subjectId, ['ambiguous']);
      if (!failedOne) {
        failedOne = true;
        await db.insertInto('result_effects').values({ ...base, rule_id: 'retire-on-consensus', kind: 'retire_subject', target: 'other', state: 'failed', attempts: 3, error: 'Panoptes said 500' }).execute();
      }
    }
  }
  return { reductions: subjects, imageOf, retired, flagged };
}
