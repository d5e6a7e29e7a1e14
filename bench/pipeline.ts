/**
 * npm run bench:pipeline — the pipeline benchmark of issue 3.
 *
 * 1. Throughput: 2,000 stamps in 3 bands (retrieve-artifacts layout) from
 *    discovery to quarantine on the embedded defaults (PGlite, filesystem
 *    store, a private redis-server, default worker settings), with per-stage
 *    latencies from the transition log. Beside it, in the same run: the same
 *    files converted by convertSet alone (no queue, database or store), so
 *    the figure shows what the service around the converter costs.
 * 2. Poll cost: a Butler collection with 100,000 known datasets (ingested over
 *    30 days) and 10 new ones, through the real Butler REST client against the
 *    contract double. Beside it: the same poll without the cursor (what every
 *    poll would cost if it re-listed the collection), and the first full poll.
 *    On PGlite, and on Postgres too when BENCH_DATABASE_URL (or DATABASE_URL)
 *    names a server: the bench creates a throwaway database there and drops it.
 *
 * Both parts count the statements sent to the database and the requests made
 * to the object store (bench/pipeline-counters.ts), per stamp and per
 * dataset: the capacity model in the docs is built from them.
 *
 * Options (env): BENCH_STAMPS (default 2000), BENCH_KNOWN (default 100000),
 * BENCH_SIZE (stamp side, default 96), BENCH_ONLY (throughput | poll),
 * BENCH_DEBUG (print when each file was retrieved and converted), and the
 * worker settings CONVERT_THREADS, CONVERT_CONCURRENCY, WORKER_CONCURRENCY.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
// The compiled code is what ships and what the conversion threads run.
import { loadConfig } from '../dist/src/config/config.js';
import { buildServices, type Services } from '../dist/src/app/service.js';
import { startWorkerRole } from '../dist/workers/main.js';
import { createLogger } from '../dist/src/app/logger.js';
import { createCollection } from '../dist/src/db/repositories/collections.js';
import { pollCollection } from '../dist/src/domain/pipeline.js';
import { writeDemoArtifacts, type DemoLayout } from '../dist/src/demo/demo-data.js';
import { DEFAULT_RELEASES, derivedRelease } from '../dist/src/domain/releases.js';
import { convertBands } from '../dist/src/imaging/convert-bands.js';
import { ConvertPool } from '../dist/src/imaging/convert-pool.js';
import { DEFAULT_CONVERT_OPTIONS } from '../dist/src/imaging/convert.js';
import { ButlerServerDouble, DOUBLE_TOKEN, type SeedDataset } from '../test/support/butler-server.js';
import { throwawayDatabase } from '../test/support/throwaway-database.js';
import { countStatements, countStoreRequests, perStamp, type StatementCounts } from './pipeline-counters.js';

const STAMPS = Number(process.env.BENCH_STAMPS ?? 2000);
const KNOWN = Number(process.env.BENCH_KNOWN ?? 100_000);
const SIZE = Number(process.env.BENCH_SIZE ?? 96);
const PER_FILE = 100;
const ONLY = process.env.BENCH_ONLY;
const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;

const ms = (x: number) => `${x.toFixed(0)} ms`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function waitFor<T>(f: () => Promise<T>, ok: (v: T) => boolean, limitMs: number): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`gave up after ${limitMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function throughput(dir: string): Promise<void> {
  const tracts = Array.from({ length: Math.ceil(STAMPS / PER_FILE) }, (_, i) => 9000 + i);
  const layout: DemoLayout = { owner: 'bench', run: 'u/bench/pipeline', datasetType: 'zooniverse_cutout', tracts, patches: [42], stampsPerFile: PER_FILE, size: SIZE };
  const root = join(dir, 'artifacts');
  const files = await writeDemoArtifacts(root, layout);
  const total = tracts.length * PER_FILE;

  // The worker settings may be set for a run (CONVERT_THREADS=1 npm run bench:pipeline); the defaults otherwise.
  const tuning = Object.fromEntries(['CONVERT_THREADS', 'CONVERT_CONCURRENCY', 'WORKER_CONCURRENCY'].filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
  const env = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), ARTIFACT_ROOT: root, LOG_LEVEL: 'warn', ...tuning };
  const config = loadConfig(env);
  const s: Services = await buildServices(config, { log: createLogger('warn'), migrate: true });
  const statements = countStatements();
  const requests = countStoreRequests(s.store);
  const w = await startWorkerRole(s);
  let elapsed: number;
  let during: StatementCounts;
  // CPU time of this process (every thread), which the load of other processes on the machine does not inflate as it does wall time.
  let cpu0 = process.cpuUsage();
  let cpu = cpu0;
  try {
    const c = await createCollection(s.db, { owner: 'bench', repository: 'dp02', name: layout.run, sourceKind: 'prefix', sourceRoot: root, datasetType: layout.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp02') }, 'bench');
    const t0 = Date.now();
    cpu0 = process.cpuUsage();
    await s.queues.add('poll', { collectionId: c.id });
    // In quarantine = converted and stored; the policy then gives each a verdict
    // (here most are refused by the 100-image pre-approval cap: still counted).
    const progress = async () => (await sql<{ stored: number; judged: number }>`select count(*)::int as stored, count(verdict)::int as judged from images where state <> 'failed'`.execute(s.db)).rows[0];
    // Checked twice a second (the check runs on the pipeline's own database); the time is the last image's own.
    await waitFor(progress, (p) => p.stored >= total, 30 * 60_000);
    elapsed = (await sql<{ last: Date }>`select max(at) as last from transitions where entity = 'image' and to_state = 'quarantined'`.execute(s.db)).rows[0].last.getTime() - t0;
    // Everything up to quarantine (the progress queries included: a few per 50 ms).
    during = statements.snapshot();
    cpu = process.cpuUsage(cpu0);
    const stored = requests.snapshot();
    await waitFor(progress, (p) => p.judged >= total, 5 * 60_000);
    const judgedMs = Date.now() - t0;

    const tr = await sql<{ entity: string; entity_id: string; to_state: string; at: Date }>`select entity, entity_id, to_state, at from transitions where entity in ('artifact', 'image') and from_state is distinct from 'quarantined'`.execute(s.db);
    const verdicts = await sql<{ at: Date }>`select at from audit_log where action like 'policy_%'`.execute(s.db);
    const verdictAt = verdicts.rows.map((r) => new Date(r.at).getTime() - t0);
    const at = new Map<string, Map<string, number>>();
    for (const r of tr.rows) {
      const m = at.get(r.entity_id) ?? new Map<string, number>();
      m.set(r.to_state, new Date(r.at).getTime());
      at.set(r.entity_id, m);
    }
    const arts = tr.rows.filter((r) => r.entity === 'artifact' && r.to_state === 'discovered').map((r) => at.get(r.entity_id)!);
    const imgs = tr.rows.filter((r) => r.entity === 'image' && r.to_state === 'quarantined').map((r) => at.get(r.entity_id)!.get('quarantined')!);
    const discovered = arts.map((m) => m.get('discovered')! - t0);
    const retrieve = arts.map((m) => m.get('retrieved')! - m.get('discovered')!);
    const convert = arts.map((m) => m.get('converted')! - m.get('retrieved')!);
    const toQuarantine = imgs.map((x) => x - t0);
    if (process.env.BENCH_DEBUG) console.log('retrieved at', arts.map((m) => m.get('retrieved')! - t0).sort((a, b) => a - b).join(' '), '\nconverted at', arts.map((m) => m.get('converted')! - t0).sort((a, b) => a - b).join(' '));

    console.log(`\n1. Discovery -> quarantine: ${total} stamps x 3 bands (${files} files of ${PER_FILE} stamps, ${SIZE}x${SIZE}), embedded defaults`);
    console.log(`   workers: WORKER_CONCURRENCY=${config.WORKER_CONCURRENCY}, CONVERT_CONCURRENCY=${config.CONVERT_CONCURRENCY}, conversion pool of ${s.pipeline.convertPool?.threads ?? config.CONVERT_THREADS ?? 1} threads, ${availableParallelism()} cores`);
    console.log(`   pipeline:      ${(total / (elapsed / 1000)).toFixed(1)} stamps/s  (${(elapsed / 1000).toFixed(1)} s in all)`);
    console.log('   per stage (p50 / p95 / max), queue waits included:');
    console.log(`     poll -> discovered        ${ms(pct(discovered, 50))} / ${ms(pct(discovered, 95))} / ${ms(Math.max(...discovered))}  (from the poll request)`);
    console.log(`     discovered -> retrieved   ${ms(pct(retrieve, 50))} / ${ms(pct(retrieve, 95))} / ${ms(Math.max(...retrieve))}  (per file)`);
    console.log(`     retrieved -> converted    ${ms(pct(convert, 50))} / ${ms(pct(convert, 95))} / ${ms(Math.max(...convert))}  (per file, waits for its group's other bands)`);
    console.log(`     first / last image        ${ms(Math.min(...toQuarantine))} / ${ms(Math.max(...toQuarantine))}  (from the poll request)`);
    console.log(`     policy verdicts           first ${ms(Math.min(...verdictAt))}, last ${ms(Math.max(...verdictAt))}; all ${total} judged ${ms(judgedMs - elapsed)} after the last image was stored`);
    printStatements(during, total, 'stamp', 'discovery -> quarantine, the bench\'s progress queries included');
    console.log(`   object store per stamp: ${perStamp(stored.put, total)} puts, ${perStamp(stored.get, total)} gets, ${perStamp(stored.head + stored.delete + stored.copy, total)} other (${stored.put} / ${stored.get} in all; one put per image, one put + one get per file of ${PER_FILE} stamps)`);
  } finally {
    statements.stop();
    await w.close();
    await s.close();
  }

  // Reference: the converter alone on the same files, the way the service
  // runs it (a pool of as many threads as the service's, as many groups at
  // once as its convert jobs), with each PNG kept in memory instead of stored.
  const threads = config.CONVERT_THREADS ?? availableParallelism();
  const pool = new ConvertPool({ threads });
  const t1 = Date.now();
  const refCpu0 = process.cpuUsage();
  let made = 0;
  const todo = [...tracts];
  const convertOne = async (tract: number) => {
    const base = join(root, layout.run, layout.datasetType, String(tract), '42');
    const channels = [];
    for (const band of ['i', 'r', 'g']) {
      const [name] = await readdir(join(base, band));
      channels.push({ band, path: join(base, band, name) });
    }
    await convertBands({ channels, opts: { ...DEFAULT_CONVERT_OPTIONS, colour: { preset: 'auto' } }, pool, onStamp: () => void made++ });
  };
  try {
    await Promise.all(
      Array.from({ length: config.CONVERT_CONCURRENCY }, async () => {
        for (let tract = todo.shift(); tract !== undefined; tract = todo.shift()) await convertOne(tract);
      }),
    );
  } finally {
    await pool.close();
  }
  if (made !== total) throw new Error(`the reference made ${made} images, expected ${total}`);
  const alone = Date.now() - t1;
  const refCpu = process.cpuUsage(refCpu0);
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  console.log(`   reference:     ${(total / (alone / 1000)).toFixed(1)} stamps/s  the converter alone on the same files (pool of ${threads} threads, ${config.CONVERT_CONCURRENCY} groups at once; no queue, database or store)`);
  console.log(`   service cost:  ${((elapsed / alone - 1) * 100).toFixed(0)}% on top of conversion; pipeline / converter alone = ${(alone / elapsed).toFixed(2)} (target >= 0.8)`);
  console.log(`   CPU per stamp: pipeline ${(cpuMs(cpu) / total).toFixed(1)} ms, converter alone ${(cpuMs(refCpu) / total).toFixed(1)} ms (this process, all its threads; redis-server not counted)`);
}

/** Where the poll bench records: the embedded PGlite, or a throwaway database on a Postgres server. */
interface PollDatabase {
  label: string;
  env: Record<string, string>;
  drop(): Promise<void>;
}

async function throwawayPostgres(adminUrl: string): Promise<PollDatabase> {
  const d = await throwawayDatabase(adminUrl, 'bench_pipeline');
  return { label: `Postgres (${new URL(adminUrl).host}, throwaway database ${d.name})`, env: { DATABASE_URL: d.url }, drop: d.drop };
}

async function pollCost(dir: string, where: PollDatabase): Promise<void> {
  const butler = await ButlerServerDouble.start({ repository: 'dp1', pageSize: 2000, keepAliveMs: 15_000 });
  const run = 'u/bench/poll';
  const datasetType = 'zooniverse_cutout';
  const bytes = new Uint8Array(16);
  const now = Date.now();
  const day = 86_400_000;
  const known: SeedDataset[] = Array.from({ length: KNOWN }, (_, i) => ({ id: randomUUID(), datasetType, run, dataId: { band: 'gri'[i % 3], skymap: 'lsst_cells_v1', tract: 5000 + Math.floor(i / 300), patch: Math.floor(i / 3) % 100 }, ingestDate: new Date(now - 30 * day + Math.floor((i / KNOWN) * 30 * day) - 2 * 3600_000), bytes }));
  butler.seed(...known);

  const env = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, `poll-data-${randomUUID()}`), LOG_LEVEL: 'warn', BUTLER_URL: butler.url, BUTLER_TOKEN: DOUBLE_TOKEN, ...where.env };
  const s: Services = await buildServices(loadConfig(env), { log: createLogger('warn'), migrate: true });
  const statements = countStatements();
  try {
    const c = await createCollection(s.db, { owner: 'bench', repository: 'dp1', name: run, sourceKind: 'butler', sourceRoot: null, datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 900 }, 'bench');
    // The REST client has the whole listing before it yields the first dataset: from then on the poll is recording.
    const listSources = s.pipeline.sources;
    let listedAt = 0;
    s.pipeline.sources = (col) => {
      const src = listSources(col);
      return {
        ...src,
        fetchArtifact: src.fetchArtifact.bind(src),
        async *listDatasets(q) {
          let first = true;
          for await (const ref of src.listDatasets(q)) {
            if (first) listedAt = Date.now();
            first = false;
            yield ref;
          }
        },
      };
    };
    statements.reset();
    let t = Date.now();
    const first = await pollCollection(s.pipeline, c.id);
    const firstMs = Date.now() - t;
    const listingMs = listedAt - t;
    s.pipeline.sources = listSources;
    const firstStatements = statements.snapshot();
    if (first.newArtifactIds.length !== KNOWN) throw new Error(`first poll found ${first.newArtifactIds.length}, expected ${KNOWN}`);
    const stored = (await sql<{ artifacts: number; transitions: number }>`select (select count(*)::int from artifacts) as artifacts, (select count(*)::int from transitions where entity = 'artifact') as transitions`.execute(s.db)).rows[0];
    if (stored.artifacts !== KNOWN || stored.transitions !== KNOWN) throw new Error(`first poll stored ${stored.artifacts} artifacts and ${stored.transitions} transitions, expected ${KNOWN} of each`);

    // Reference: the database alone writing the same rows (copied within itself into a table of the
    // same shape and indexes: no client, no parameters, no transitions or foreign keys), now, on this machine.
    await sql`create table bench_scratch (like artifacts including all)`.execute(s.db);
    t = Date.now();
    await sql`insert into bench_scratch select * from artifacts`.execute(s.db);
    const floorMs = Date.now() - t;
    await sql`drop table bench_scratch`.execute(s.db);

    const times: number[] = [];
    for (let round = 0; round < 5; round++) {
      const fresh: SeedDataset[] = Array.from({ length: 10 }, (_, i) => ({ id: randomUUID(), datasetType, run, dataId: { band: 'gri'[i % 3], skymap: 'lsst_cells_v1', tract: 9000 + round, patch: i }, ingestDate: new Date(Date.now() - 1000), bytes }));
      butler.seed(...fresh);
      t = Date.now();
      const r = await pollCollection(s.pipeline, c.id);
      times.push(Date.now() - t);
      if (r.newArtifactIds.length !== 10) throw new Error(`poll found ${r.newArtifactIds.length} new, expected 10`);
    }

    // Reference: the same poll with the cursor forgotten lists everything again.
    await s.db.updateTable('collections').set({ cursor: null }).where('id', '=', c.id).execute();
    t = Date.now();
    const relist = await pollCollection(s.pipeline, c.id);
    const relistMs = Date.now() - t;
    if (relist.newArtifactIds.length !== 0) throw new Error('a full re-listing found new datasets');

    console.log(`\n2. Poll cost on ${where.label}, Butler REST client -> contract double, ${KNOWN.toLocaleString('en')} known datasets (ingested over 30 days) + 10 new`);
    console.log(`   poll with cursor:       median ${ms(pct(times, 50))}, max ${ms(Math.max(...times))} over 5 polls (target <= 200 ms)`);
    console.log(`   reference, no cursor:   ${ms(relistMs)}  (re-lists all ${KNOWN.toLocaleString('en')}, inserts none)`);
    console.log(`   first poll of all:      ${ms(firstMs)}: listing ${ms(listingMs)} (the double and the client, both in this process), recording ${ms(firstMs - listingMs)} (${(KNOWN / ((firstMs - listingMs) / 1000)).toFixed(0)} datasets/s; target <= 3 s for 100,000 on Postgres)`);
    console.log(`   reference, database alone: ${ms(floorMs)} to copy the ${KNOWN.toLocaleString('en')} rows within itself into a table of the same shape and indexes`);
    printStatements(firstStatements, KNOWN, 'dataset', 'the first poll');
    console.log(`   cursor poll lists only the lookback hour and the new ones; the double answers each query in O(all) memory scan, counted in the figures.`);
  } finally {
    statements.stop();
    await s.close();
    await butler.close();
  }
}

function printStatements(c: StatementCounts, n: number, unit: string, what: string): void {
  console.log(`   database per ${unit}: ${perStamp(c.writes, n)} writes, ${perStamp(c.reads, n)} reads, ${perStamp(c.control, n)} begin/commit (${c.writes} / ${c.reads} / ${c.control} statements in all, ${what})`);
  console.log(`     time in the driver: writes ${ms(c.ms.writes)}, reads ${ms(c.ms.reads)}, begin/commit ${ms(c.ms.control)}; costliest statements:`);
  for (const t of c.top.slice(0, 5)) console.log(`       ${ms(t.ms).padStart(8)} x${String(t.count).padEnd(6)} ${t.shape}`);
}

const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
try {
  console.log(`bench:pipeline on ${availableParallelism()} cores, Node ${process.versions.node}`);
  if (ONLY !== 'poll') await throughput(dir);
  if (ONLY !== 'throughput') {
    await pollCost(dir, { label: 'PGlite (embedded default)', env: {}, drop: async () => {} });
    if (PG_URL) {
      const where = await throwawayPostgres(PG_URL);
      try {
        await pollCost(dir, where);
      } finally {
        await where.drop();
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
