/**
 * The mode section of `npm run bench:upload`: Panoptes requests per subject
 * in each upload mode, for the capacity model of the docs (issue 16).
 *
 * The same N subjects (same manifest shape, one batch each) are uploaded
 * once in api mode (created one by one, already linked to the set, then
 * linked in chunks of 100) and once in import mode (Panoptes fetches the
 * batch's CSV manifest from the public store: subject_set_imports), each to
 * a fresh Panoptes double behind the same latency proxy, with no faults and
 * the upload engine's default settings. Every request the double answered is
 * counted from its request log, by kind, beside the wall time.
 *
 * What sets the import figures apart from production: the double imports as
 * fast as it can (BENCH_IMPORT_ROW_MS adds a pause per row), while real
 * Panoptes works through the manifest in a background job; the status polls
 * are one per importPollMs (5 s by default) for as long as the import runs,
 * so at Panoptes' speed they are about (import duration / 5 s) + 1.
 *
 * Beside both, the CLI model (bench/cli-model.ts: panoptes-cli's behaviour,
 * 5 saves in parallel) uploads the same subjects at the same latency, also
 * without faults, for issue 16's target: import mode >= 10x the CLI model
 * (api mode's >= 3x is measured with faults, in bench/upload.ts's first part).
 */
import { PanoptesHttpClient } from '../src/adapters/panoptes/panoptes-client.js';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { databaseLock } from '../src/db/locks.js';
import { createRepositories } from '../src/db/repositories/index.js';
import { uploadBatch } from '../src/domain/upload.js';
import type { UploadTuning } from '../src/domain/upload-config.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble, type LoggedRequest, type PanoptesRoute } from '../test/support/panoptes-server.js';
import { quietLog, seedUploadBatch, startDelayingProxy, startPublicStore } from '../test/support/upload-fixtures.js';
import { cliSubjectsOf, runCliModel } from './cli-model.js';

export interface ModeBenchOptions {
  subjects: number;
  latencyMs: number;
  /** Overrides the engine's importPollMs (default 5 s) when set. */
  importPollMs?: number;
  /** Pause of the double per imported row (0: as fast as it goes). */
  importRowMs: number;
}

type Mode = 'api' | 'import';

/** The kinds the capacity model counts; every other route is 'other' (and named in the route detail). */
const KINDS: [label: string, routes: PanoptesRoute[]][] = [
  ['token', ['token']],
  ['create subject', ['createSubject']],
  ['link', ['linkSubjects']],
  ['import create', ['createImport']],
  ['import status polls', ['getImport']],
  // Membership checks, the set listings that match imported rows, the set's count, the import lookup before creating one.
  ['verification/listing reads', ['listSubjects', 'getSubject', 'getSubjectSet', 'listImports']],
];
const COUNTED = new Set(KINDS.flatMap(([, routes]) => routes));

interface ModeFigures {
  mode: Mode;
  /** The mode the batch ended in (import falls back to api where Panoptes refuses imports). */
  endedAs: string;
  ms: number;
  requests: LoggedRequest[];
  state: string;
  atZooniverse: number;
  inSet: number;
  duplicates: number;
}

async function uploadInMode(mode: Mode, o: ModeBenchOptions): Promise<ModeFigures> {
  const pub = await startPublicStore();
  const db = await openDatabase({ dataDir: 'memory://' });
  await migrateToLatest(db);
  const server = await PanoptesServerDouble.start({ importRowDelayMs: o.importRowMs });
  const proxy = await startDelayingProxy(server.url, o.latencyMs);
  try {
    const batch = await seedUploadBatch(db, pub.store, { n: o.subjects, mode, collectionName: `bench-${mode}` });
    const panoptes = new PanoptesHttpClient({ baseUrl: proxy.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET });
    const tuning: Partial<UploadTuning> = o.importPollMs === undefined ? {} : { importPollMs: o.importPollMs };
    process.stdout.write(`${mode} mode ... `);
    const t0 = performance.now();
    const report = await uploadBatch({ repos: createRepositories(db), lock: databaseLock(db), panoptes, store: pub.store, log: quietLog, tuning }, batch.batchId);
    const ms = performance.now() - t0;
    console.log(`${(ms / 1000).toFixed(1)} s`);
    const ours = new Set(batch.externalIds);
    const subjects = server.allSubjects({ includeDeleted: false }).filter((s) => ours.has(s.externalId ?? ''));
    return {
      mode,
      endedAs: report.mode,
      ms,
      // A copy: the double is closed below.
      requests: [...server.requests],
      state: report.state,
      atZooniverse: subjects.length,
      inSet: report.subjectSetId ? server.setMembers(report.subjectSetId).length : 0,
      duplicates: subjects.length - new Set(subjects.map((s) => s.externalId)).size,
    };
  } finally {
    await proxy.close();
    await server.close();
    await db.destroy();
    await pub.close();
  }
}

/** The CLI model on the same subjects (the api-mode manifest), at the same latency, without faults: wall time and subjects at Zooniverse. */
async function uploadWithCliModel(o: ModeBenchOptions): Promise<{ ms: number; created: number; failed: number }> {
  const pub = await startPublicStore();
  const db = await openDatabase({ dataDir: 'memory://' });
  await migrateToLatest(db);
  const server = await PanoptesServerDouble.start();
  const proxy = await startDelayingProxy(server.url, o.latencyMs);
  try {
    const batch = await seedUploadBatch(db, pub.store, { n: o.subjects, mode: 'api', collectionName: 'bench-cli' });
    const subjects = await cliSubjectsOf(pub.store, batch.jsonKey);
    const set = server.seedSubjectSet({ displayName: 'bench cli' });
    process.stdout.write('CLI model ... ');
    // No faults, so none of its retry pauses runs: sleepScale does not matter here.
    const r = await runCliModel({ baseUrl: proxy.url, clientId: PANOPTES_CLIENT_ID, clientSecret: PANOPTES_CLIENT_SECRET, projectId: '1', subjectSetId: set.id, subjects });
    console.log(`${(r.ms / 1000).toFixed(1)} s`);
    return { ms: r.ms, created: server.setMembers(set.id).length, failed: r.failed };
  } finally {
    await proxy.close();
    await server.close();
    await db.destroy();
    await pub.close();
  }
}

/** Uploads N subjects in each mode and prints the requests per subject by kind, the wall time and subjects/s. */
export async function benchUploadModes(o: ModeBenchOptions): Promise<void> {
  const poll = o.importPollMs === undefined ? 'the default import poll interval (5 s)' : `import polled every ${o.importPollMs} ms`;
  console.log(`\nPanoptes requests per subject by upload mode: ${o.subjects} subjects, no faults, ${o.latencyMs} ms per request, ${poll}, the double imports at ${o.importRowMs} ms per row\n`);
  const runs: ModeFigures[] = [];
  for (const mode of ['api', 'import'] as const) runs.push(await uploadInMode(mode, o));
  const cli = await uploadWithCliModel(o);

  const n = o.subjects;
  const cell = (count: number) => `${String(count).padStart(7)} ${(count / n).toFixed(3).padStart(9)}`;
  const count = (f: ModeFigures, routes: PanoptesRoute[]) => f.requests.filter((r) => routes.includes(r.route)).length;
  const other = (f: ModeFigures) => f.requests.filter((r) => !COUNTED.has(r.route)).length;
  const rows: [string, (f: ModeFigures) => string][] = [
    ...KINDS.map(([label, routes]): [string, (f: ModeFigures) => string] => [label, (f) => cell(count(f, routes))]),
    ['other (me, project, subject set setup)', (f) => cell(other(f))],
    ['requests in all', (f) => cell(f.requests.length)],
    ['  of which answered with an error', (f) => cell(f.requests.filter((r) => r.status === undefined || r.status >= 400).length)],
    ['wall time', (f) => `${(f.ms / 1000).toFixed(1)} s`.padStart(17)],
    ['subjects/s', (f) => (n / (f.ms / 1000)).toFixed(1).padStart(17)],
    ['at Zooniverse / in the set / duplicates', (f) => `${f.atZooniverse} / ${f.inSet} / ${f.duplicates}`.padStart(17)],
    ['batch ended', (f) => `${f.state} (${f.endedAs})`.padStart(17)],
  ];
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  console.log(`\n${''.padEnd(w)}${'api mode'.padStart(17)}   ${'import mode'.padStart(17)}`);
  console.log(`${''.padEnd(w)}${'count'.padStart(7)} ${'/subject'.padStart(9)}   ${'count'.padStart(7)} ${'/subject'.padStart(9)}`);
  for (const [label, fmt] of rows) console.log(`${label.padEnd(w)}${runs.map(fmt).join('   ')}`);

  // Route by route, so what 'other' and the listing reads hold is on the record.
  for (const f of runs) {
    const byRoute = new Map<string, number>();
    for (const r of f.requests) byRoute.set(r.route, (byRoute.get(r.route) ?? 0) + 1);
    console.log(`${f.mode} mode routes: ${[...byRoute].map(([route, c]) => `${route} ${c}`).join(', ')}`);
  }
  const [api, imp] = runs;
  console.log(`import mode: ${(api.requests.length / imp.requests.length).toFixed(1)}x fewer requests than api mode, ${(api.ms / imp.ms).toFixed(2)}x its speed (its wall time includes waiting for the import between polls)`);
  const rate = (ms: number) => n / (ms / 1000);
  console.log(`CLI model, same subjects and latency, no faults: ${(cli.ms / 1000).toFixed(1)} s (${rate(cli.ms).toFixed(1)} subjects/s, ${cli.created} in the set, ${cli.failed} failed)`);
  console.log(`  import mode ${(cli.ms / imp.ms).toFixed(1)}x the CLI model (target >= 10x); api mode ${(cli.ms / api.ms).toFixed(1)}x, ${(count(api, ['createSubject']) / n).toFixed(3)} creates per subject (its >= 3x target is the run with faults, above)`);
  for (const f of runs) {
    if (f.atZooniverse !== n || f.inSet !== n || f.duplicates || f.state !== 'uploaded' || f.endedAs !== f.mode) console.log(`${f.mode} mode INCOMPLETE: ${f.state} as ${f.endedAs}, ${f.atZooniverse} at Zooniverse, ${f.inSet} in the set, ${f.duplicates} duplicates`);
  }
}
