import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/database.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { Repositories } from '../../src/domain/ports/repositories.js';
import { reduceAll, type RawClassification, type SubjectReduction } from '../../src/results/index.js';
import { generateClassifications, TASKS, WORKFLOW_ID } from '../support/classifications.js';
import type { PanoptesServerDouble } from '../support/panoptes-server.js';

/**
 * A collection whose subjects exist on the Panoptes double and whose
 * reductions are in table `reductions`, built honestly: synthetic
 * classifications (test/support/classifications.ts) reduced with reduceAll,
 * their subject ids mapped onto the double's subjects.
 */
export interface ResultsWorld {
  repos: Repositories;
  collectionId: string;
  workflowId: string;
  expertSet: string;
  /** By Panoptes subject id. */
  reductions: Map<string, SubjectReduction>;
  imageOf: Map<string, string>;
}

export async function resultsWorld(db: Db, zoo: PanoptesServerDouble, o: { subjects?: number; perSubject?: number; seed?: number; owner?: string; collectionId?: string } = {}): Promise<ResultsWorld> {
  const repos = createRepositories(db);
  const owner = o.owner ?? 'alien';
  const c = o.collectionId
    ? await repos.collections.get(o.collectionId)
    : await repos.collections.create(
        { owner, repository: 'dp1', name: `u/${owner}/results-${randomUUID().slice(0, 8)}`, sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['r'], colour: {}, zooniverseProjectId: '1', subjectSetNaming: null, pollIntervalSeconds: 3600 },
        owner,
      );
  // A workflow of its own per world: tests share a database, and each double numbers subjects from 1.
  const workflowId = String(3000 + worlds++);
  zoo.results.addWorkflow({ id: workflowId, projectId: '1' });
  const n = o.subjects ?? 30;
  const set = zoo.seedSubjectSet({ displayName: `DP1 ${c.id.slice(0, 6)}` });
  const expert = zoo.seedSubjectSet({ displayName: `Expert review ${c.id.slice(0, 6)}` });
  const subjects = zoo.seedSubjects(set.id, n).map((s) => s.id);
  // Wide skills so that some subjects reach agreement and some do not.
  const gen = generateClassifications({ seed: o.seed ?? 11, subjects: n, perSubject: o.perSubject ?? 9, volunteers: 60, skill: [0.5, 0.99], repeats: 0.1 });
  // Every fourth subject has had only 4 classifications so far, so the "at least 5" clause matters too.
  const seen = new Map<string, number>();
  const few = (c: RawClassification) => {
    const s = c.subjectIds[0];
    const k = (seen.get(s) ?? 0) + 1;
    seen.set(s, k);
    return (Number(s) - 100000) % 4 !== 0 || k <= 4;
  };
  const reduced = reduceAll([...gen].filter(few), { workflows: { [WORKFLOW_ID]: TASKS } }).subjects;
  const reductions = new Map<string, SubjectReduction>();
  const imageOf = new Map<string, string>();
  for (const r of reduced) {
    const k = Number(r.subjectId) - 100000;
    const sid = subjects[k];
    const red = { ...r, workflowId, subjectId: sid };
    reductions.set(sid, red);
    imageOf.set(sid, randomUUID());
  }
  await db
    .insertInto('reductions')
    .values(
      [...reductions].map(([sid, red]) => ({
        workflow_id: workflowId,
        subject_id: sid,
        collection_id: c.id,
        image_id: imageOf.get(sid)!,
        state: '{}',
        result: JSON.stringify(red),
        classifications: red.classifications,
        through_id: 0,
      })),
    )
    .execute();
  return { repos, collectionId: c.id, workflowId, expertSet: expert.id, reductions, imageOf };
}

let worlds = 0;

/** The T0 consensus of a reduction, read straight from the reducer's output (the oracle the rules are checked against). */
export function t0(r: SubjectReduction): { agreement: number; classifications: number; mostLikely: string | null } {
  const t = r.tasks.T0;
  if (t?.kind !== 'question') return { agreement: 0, classifications: 0, mostLikely: null };
  return { agreement: t.consensus.agreement, classifications: t.classifications, mostLikely: t.consensus.most_likely };
}

export const retireRules = (workflowId: string) => `name: retire-test
version: "1"
workflow: "${workflowId}"
rules:
  - id: retire-on-consensus
    task: T0
    condition: [and, [gte, [lookup, consensus.agreement, 0], [const, 0.8]], [gte, [lookup, classifications, 0], [const, 5]]]
    effects:
      - retire_subject: { reason: consensus }
`;

export const expertRules = (setId: string) => `name: expert-test
version: "1"
rules:
  - id: ambiguous-to-experts
    task: T0
    condition: [and, [lt, [lookup, consensus.agreement, 1], [const, 0.6]], [gte, [lookup, classifications, 0], [const, 5]]]
    effects:
      - add_subject_to_set: { subject_set_id: "${setId}" }
      - notify: { message: volunteers disagree }
      - flag: { label: ambiguous }
`;
