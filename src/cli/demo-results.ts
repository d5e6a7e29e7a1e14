import { open } from 'node:fs/promises';
import type { Collection } from '../domain/model.js';
import type { Repositories } from '../domain/ports/repositories.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import { allResults } from '../domain/results-table.js';
import { imageName } from '../domain/image-name.js';
import { writeResultsCsv } from '../domain/results-download.js';
import { PanoptesServerDouble, PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET } from '../demo/panoptes-double/panoptes-server.js';
import { TASKS, WORKFLOW_ID, generateClassifications, subjectIdOf } from '../demo/volunteers.js';
import { progressBar } from './progress.js';

/**
 * The results half of `bridge demo` without real Zooniverse credentials: the
 * demo Panoptes server runs in-process, the approved images are uploaded to
 * it, simulated volunteers classify them, and the bridge's own workers pull,
 * reduce and apply demo results rules, as they would against Zooniverse.
 */

/** The demo Panoptes project; its workflow asks the simulated volunteers' questions. */
export const DEMO_ZOONIVERSE_PROJECT = '1';

export interface DemoZooniverse {
  server: PanoptesServerDouble;
  projectId: string;
  /** What the bridge's config needs to talk to it. */
  env: { ZOONIVERSE_BASE_URL: string; ZOONIVERSE_CLIENT_ID: string; ZOONIVERSE_CLIENT_SECRET: string };
}

export async function startDemoZooniverse(): Promise<DemoZooniverse> {
  const server = await PanoptesServerDouble.start({ projects: [{ id: DEMO_ZOONIVERSE_PROJECT, displayName: 'Rubin demo project', slug: 'rubin/demo' }] });
  server.results.addWorkflow({ id: WORKFLOW_ID, projectId: DEMO_ZOONIVERSE_PROJECT, tasks: TASKS as never, displayName: 'Is there a merger?' });
  return { server, projectId: DEMO_ZOONIVERSE_PROJECT, env: { ZOONIVERSE_BASE_URL: server.url, ZOONIVERSE_CLIENT_ID: PANOPTES_CLIENT_ID, ZOONIVERSE_CLIENT_SECRET: PANOPTES_CLIENT_SECRET } };
}

/** The demo's results rules: retire at consensus, send ambiguous subjects to experts. */
export function demoRulesYaml(expertSetId: string): string {
  return [
    'name: bridge-demo-results',
    'version: "1"',
    `workflow: "${WORKFLOW_ID}"`,
    'rules:',
    '  - id: retire-on-consensus',
    '    description: Retire once volunteers agree',
    '    task: T0',
    '    condition: [and, [gte, [lookup, consensus.agreement, 0], [const, 0.8]], [gte, [lookup, classifications, 0], [const, 5]]]',
    '    effects:',
    '      - retire_subject: { reason: consensus }',
    '  - id: ambiguous-to-experts',
    '    description: Volunteers disagree; an expert looks',
    '    task: T0',
    '    condition: [and, [lt, [lookup, consensus.agreement, 1], [const, 0.6]], [gte, [lookup, classifications, 0], [const, 5]]]',
    '    effects:',
    `      - add_subject_to_set: { subject_set_id: "${expertSetId}" }`,
    '      - flag: { label: ambiguous }',
    '',
  ].join('\n');
}

export interface DemoResultsInput {
  apiUrl: string;
  owner: string;
  repos: Repositories;
  queues: Pick<JobQueue, 'add' | 'depths'>;
  zoo: DemoZooniverse;
  collection: Collection;
  csvPath: string;
  /** The demo's DATA_DIR, for the commands it prints. */
  dataDir: string;
  deadline: number;
  say: (m: string) => void;
  /** Classifications per subject (simulated volunteers). */
  perSubject?: number;
}

export async function runDemoResults(o: DemoResultsInput): Promise<void> {
  const { server } = o.zoo;
  const headers = { 'x-bridge-dev-user': o.owner };
  const subjects = server.allSubjects().filter((s) => !s.deleted);
  if (!subjects.length) {
    o.say('no subjects reached the demo Zooniverse project, so there are no results to show');
    return;
  }
  // Volunteers classify subject numbers 0..n-1; the demo server knows them by the ids it gave at upload.
  const realId = new Map(subjects.map((s, i) => [subjectIdOf(i), s.id]));
  const perSubject = o.perSubject ?? 12;
  const seeded = [...generateClassifications({ seed: 14, subjects: subjects.length, perSubject, volunteers: 60, repeats: 0, skill: [0.5, 0.95] })].map((c) => ({
    workflowId: c.workflowId,
    workflowVersion: c.workflowVersion,
    user: c.userId ? { id: c.userId, login: c.userName ?? `volunteer-${c.userId}` } : null,
    createdAt: c.createdAt,
    subjectIds: c.subjectIds.map((id) => realId.get(id) ?? id),
    annotations: c.annotations,
    metadata: c.metadata,
  }));
  server.results.addClassifications(seeded);
  o.say(`simulated volunteers made ${seeded.length} classifications of ${subjects.length} subjects (${perSubject} each)`);

  const expert = server.seedSubjectSet({ projectId: o.zoo.projectId, displayName: 'Expert review' });
  const yaml = demoRulesYaml(expert.id);
  const put = await fetch(`${o.apiUrl}/api/v1/collections/${o.collection.id}/results/rules`, { method: 'PUT', headers: { ...headers, 'content-type': 'text/yaml' }, body: yaml });
  if (put.status !== 200) throw new Error(`storing the demo results rules failed: ${put.status} ${((await put.json()) as { detail?: string }).detail ?? ''}`);
  const on = await fetch(`${o.apiUrl}/api/v1/collections/${o.collection.id}/results/rules/enable`, { method: 'POST', headers });
  if (on.status !== 200) throw new Error(`enabling the demo results rules failed: ${on.status} ${((await on.json()) as { detail?: string }).detail ?? ''}`);
  o.say(`results rules: retire at agreement >= 0.8, ambiguous (agreement < 0.6) to expert subject set ${expert.id}; enabled`);

  await o.queues.add('pullClassifications', { projectId: o.zoo.projectId });
  const bar = progressBar('pull + reduce + rules');
  // Settled: every subject reduced, no results job waiting or running (pull -> reduce -> rules queue
  // each other), and no effect left between intent and done. Delayed jobs are left out: the pull's schedule is one.
  const settled = async () => {
    const q = (await o.queues.depths()).results ?? {};
    if ((q.waiting ?? 0) + (q.active ?? 0) + (q.prioritized ?? 0) > 0) return false;
    return (await o.repos.resultEffects.inStates(o.collection.id, ['intent', 'sending', 'ambiguous'])).length === 0;
  };
  for (;;) {
    const reduced = await o.repos.reductions.count(o.collection.id);
    bar(Math.min(reduced, subjects.length), subjects.length);
    // Asked twice, a moment apart, so a job queued just as the first answer was read is seen.
    if (reduced >= subjects.length && (await settled())) {
      await new Promise((r) => setTimeout(r, 500));
      if (await settled()) break;
    }
    if (Date.now() > o.deadline) {
      o.say('');
      o.say(`the results did not settle in time: ${reduced}/${subjects.length} subjects reduced; see bridge status --collection ${o.collection.id}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  o.say('');

  const pulled = (await o.repos.classifications.countByCollection(o.zoo.projectId)).find((x) => x.collectionId === o.collection.id)?.classifications ?? 0;
  const reducedCount = await o.repos.reductions.count(o.collection.id);
  const retired = server.results.retired(WORKFLOW_ID);
  const moved = server.setMembers(expert.id);
  o.say(`classifications pulled: ${pulled}; subjects reduced: ${reducedCount}`);
  o.say(`retired at consensus: ${[...retired.values()].filter((r) => r.reason === 'consensus').length}; moved to the expert set ${expert.id}: ${moved.length}`);

  // Top objects per answer: highest agreement first.
  const byAnswer = new Map<string, { imageId: string; objectId: string | null; agreement: number; votes: number }[]>();
  for await (const page of allResults(o.repos, o.collection)) {
    for (const { row } of page) {
      const t0 = row.tasks.T0 as { consensus?: { most_likely: string | null; agreement: number; num_votes: number } } | undefined;
      const c = t0?.consensus;
      if (!c?.most_likely) continue;
      const list = byAnswer.get(c.most_likely) ?? [];
      list.push({ imageId: row.imageId, objectId: row.objectId, agreement: c.agreement, votes: c.num_votes });
      byAnswer.set(c.most_likely, list);
    }
  }
  o.say(`top objects per answer to T0 (${String((TASKS.T0 as { question?: string }).question ?? 'T0')}):`);
  for (const [answer, list] of [...byAnswer].sort((a, b) => b[1].length - a[1].length)) {
    list.sort((a, b) => b.agreement - a.agreement || b.votes - a.votes);
    const top: string[] = [];
    for (const x of list.slice(0, 3)) {
      // Named as the review page names images: the object id, or the place (tract, patch, stamp) without one.
      const img = await o.repos.images.find(x.imageId);
      top.push(`${img ? imageName(img, x.objectId) : x.imageId} (${Math.round(x.agreement * 100)}%)`);
    }
    o.say(`  ${answer} (${list.length} subjects): ${top.join('; ')}`);
  }

  const file = await open(o.csvPath, 'w');
  try {
    const rows = await writeResultsCsv(o.repos, o.collection, async (chunk) => void (await file.write(chunk)));
    o.say(`results table (${rows} rows): ${o.csvPath}`);
  } finally {
    await file.close();
  }
  o.say(`as Parquet: BRIDGE_MODE=dev DATA_DIR=${o.dataDir} npx bridge results --collection ${o.collection.id} --format parquet --out results.parquet`);
}
