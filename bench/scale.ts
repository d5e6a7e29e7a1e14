/**
 * npm run bench:scale — scale-out by worker processes (issue 16).
 *
 * Users add throughput by adding `bridge serve --role worker` processes on
 * the shared Postgres, Redis and S3 (BullMQ's model; the compose file's
 * `--scale converter=N`). This measures it as they would run it: real
 * `node bin/bridge.js serve --role worker --queues convert` processes, each
 * with one conversion thread (CONVERT_THREADS=1), on one Postgres (a
 * throwaway database of BENCH_DATABASE_URL / DATABASE_URL, default
 * 127.0.0.1:5432), a private redis-server and the S3 test server (s3rver).
 *
 * Each round starts from nothing: a fresh database, Redis and bucket. A
 * stager process (`--queues poll,retrieve`) discovers and retrieves every
 * file while the convert queue is paused, then stops; the converter
 * processes start and report ready; the queue is resumed, and the clock
 * runs until the last stamp is in quarantine (its transition's time). So the
 * figure is conversion throughput, start-up and retrieval excluded, with
 * every database write and S3 PUT of the conversion included.
 *
 * Printed per round: stamps/s, the speed-up of N processes over one, CPU ms
 * per stamp of the converters, and the exactly-once checks: image rows,
 * distinct stamps and PNG PUTs (0 duplicates, 0 lost), and each process's
 * share of the convert jobs. Beside it the machine's ceiling: the same
 * pure-CPU loop in 1 and N processes at once. Target: 2 processes >= 1.8x one.
 *
 * 72 jobs (1,152 stamps, 15-25 s a round) by default: with 24 (5 s), each
 * process's first-job costs (loading the converter, starting its thread,
 * unoptimised code) were a third of the figure, which a worker that runs for
 * hours does not pay (1.15-1.37x there against 1.50x with 72, fs store).
 *
 * Two placements. shared: the processes share both cores with each other
 * and with Postgres, Redis and the S3 test server, as on one machine; a
 * converter process keeps ~1.3 cores busy (its conversion thread, its main
 * thread storing PNGs and recording images, V8's helper threads), so here
 * a second one can add at most ~0.5 of the first's work. pinned: converter
 * process i is confined to core i (taskset, for the process and every
 * thread it starts), as Kubernetes pods with one CPU each or one machine
 * each, which is how users add capacity; the services still run on any
 * core, so the second process shares its core with them.
 *
 * Options (env): BENCH_PROCESSES (1,2), BENCH_PLACEMENTS (shared,pinned), BENCH_STORES (s3,fs), BENCH_GROUPS (72 convert jobs),
 * BENCH_PER_FILE (16 stamps a file), BENCH_SIZE (256), BENCH_DATABASE_URL.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { openDatabase, migrateToLatest, type Db } from '../dist/src/db/database.js';
import { createCollection } from '../dist/src/db/repositories/collections.js';
import { writeDemoArtifacts, type DemoLayout } from '../dist/src/demo/demo-data.js';
import { DEFAULT_RELEASES, derivedRelease } from '../dist/src/domain/releases.js';
import { BullMqJobQueue } from '../dist/src/adapters/queue/bullmq-queue.js';
import { startLocalRedis } from '../dist/src/adapters/redis/redis-server.js';
import { S3_CREDENTIALS, startS3Double, type S3Double } from '../test/support/s3-double.js';
import { throwawayDatabase } from '../test/support/throwaway-database.js';
import { spawnLogged, type LoggedProcess } from '../test/support/logged-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/bridge.js');
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2').split(',').map(Number);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 72);
const PER_FILE = Number(process.env.BENCH_PER_FILE ?? 16);
const SIZE = Number(process.env.BENCH_SIZE ?? 256);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Extra node options for the worker processes, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them.
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
// s3: the S3 test server (s3rver, in this process); fs: the filesystem store in one directory all processes share.
type Store = 's3' | 'fs';
const STORES = (process.env.BENCH_STORES ?? 's3,fs').split(',') as Store[];
// shared: the processes share every core with each other and the services, as on one machine.
// pinned: converter process i runs on core i only (taskset), as pods with one CPU each; the services still run where they like.
type Placement = 'shared' | 'pinned';
const PLACEMENTS = (process.env.BENCH_PLACEMENTS ?? 'shared,pinned').split(',') as Placement[];
const BUCKETS = { quarantine: 'scale-quarantine', public: 'scale-public' };

type Bridge = LoggedProcess;

/** `bridge serve --role worker` as users run it (the compiled CLI), its JSON log lines collected. */
function serve(env: Record<string, string>, queues: string, cpus?: string): Bridge {
  return spawnLogged([...NODE_ARGS, BIN, 'serve', '--role', 'worker', '--queues', queues], { cwd: ROOT, env, cpus, label: `bench:scale: bridge serve --queues ${queues}` });
}

/** Stops a process the way an orchestrator does: SIGTERM (it drains and exits), SIGKILL after 15 s. */
async function stop(b: Bridge): Promise<void> {
  if (b.proc.exitCode !== null || b.proc.signalCode !== null) return;
  b.proc.kill('SIGTERM');
  const timer = setTimeout(() => b.proc.kill('SIGKILL'), 15_000);
  await b.exited;
  clearTimeout(timer);
}

/** Busy and total jiffies of the whole machine (/proc/stat's cpu line), for the share of the cores in use. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.reduce((a, x) => a + x, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** utime + stime of a live process, ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const tick = 100; // USER_HZ on Linux
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, limitMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`bench:scale: timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface Round {
  processes: number;
  stamps: number;
  seconds: number;
  cpuMsPerStamp?: number;
  /** Cores the converter processes used on average while converting, and the whole machine. */
  convertersCores?: number;
  machineCores?: number;
  /** Cores this process (the S3 test server, the progress queries) used meanwhile. */
  benchCores: number;
  rows: number;
  distinctStamps: number;
  /** PNG PUTs the S3 test server saw (undefined on the filesystem store). */
  pngPuts?: number;
  distinctPngPuts?: number;
  jobsPerProcess: number[];
  distinctJobs: number;
}

async function round(processes: number, store: Store, placement: Placement, artifactRoot: string, layout: DemoLayout, stamps: number): Promise<Round> {
  const database = await throwawayDatabase(ADMIN_URL, 'bench_scale');
  const redis = await startLocalRedis();
  let s3: S3Double | undefined;
  let db: Db | undefined;
  let queues: BullMqJobQueue | undefined;
  const bridges: Bridge[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'bench-scale-'));
  try {
    if (store === 's3') s3 = await startS3Double([BUCKETS.quarantine, BUCKETS.public]);
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      BRIDGE_MODE: 'dev',
      LOG_LEVEL: 'debug',
      DATA_DIR: join(dir, 'data'),
      ARTIFACT_ROOT: artifactRoot,
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      ...(s3
        ? {
            STORAGE: 's3',
            S3_ENDPOINT: s3.endpoint,
            S3_FORCE_PATH_STYLE: 'true',
            S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
            S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
            S3_QUARANTINE_BUCKET: BUCKETS.quarantine,
            S3_PUBLIC_BUCKET: BUCKETS.public,
          }
        : { STORAGE: 'fs' }),
      CONVERT_THREADS: '1',
      // Named here so that the bench's own queue handle (to pause and resume) is the processes' queue.
      QUEUE_PREFIX: 'bench-scale',
      PORT: '0',
    };
    delete env.NODE_OPTIONS;
    db = await openDatabase({ url: database.url });
    await migrateToLatest(db);
    const c = await createCollection(db, { owner: 'bench', repository: 'dp02', name: layout.run, sourceKind: 'prefix', sourceRoot: artifactRoot, datasetType: layout.datasetType, rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp02') }, 'bench');
    queues = new BullMqJobQueue({ url: redis.url }, 'bench-scale');
    const convert: Queue = queues.queue('convert');
    await convert.pause();

    // Staging: every file discovered and retrieved, every convert job waiting in the paused queue.
    const stager = serve({ ...env, LOG_LEVEL: 'warn' }, 'poll,retrieve');
    bridges.push(stager);
    await queues.add('poll', { collectionId: c.id });
    const files = GROUPS * 3;
    await waitFor('retrieval', async () => ({ retrieved: (await sql<{ n: number }>`select count(*)::int as n from artifacts where state = 'retrieved'`.execute(db!)).rows[0].n, queued: await convert.getJobCountByTypes('wait', 'prioritized') }), (p) => p.retrieved >= files && p.queued >= GROUPS, 3 * 60_000, 250);
    await stop(stager);

    // The converters, started and ready before the clock starts.
    const converters = Array.from({ length: processes }, (_, i) => serve(env, 'convert', placement === 'pinned' ? String(i % availableParallelism()) : undefined));
    bridges.push(...converters);
    await waitFor('converters ready', async () => converters.map((b) => b.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('workers started'))), (r) => r.every(Boolean), 60_000);
    const cpu0 = converters.map((b) => cpuMs(b.proc.pid));
    const ticks0 = machineTicks();
    const own0 = process.cpuUsage();
    const t0 = Date.now();
    await convert.resume();
    await waitFor('conversion', async () => (await sql<{ n: number }>`select count(*)::int as n from images`.execute(db!)).rows[0].n, (n) => n >= stamps, 10 * 60_000, 50);
    const ticks1 = machineTicks();
    const own = process.cpuUsage(own0);
    const last = (await sql<{ last: Date }>`select max(at) as last from transitions where entity = 'image' and to_state = 'quarantined'`.execute(db)).rows[0].last.getTime();
    // Jobs finish (their completion logged) just after their last image: wait for every one.
    const done = (b: Bridge) => b.logs.filter((l) => l.msg === 'job done' && l.job === 'convert').map((l) => String(l.jobId));
    await waitFor('job logs', async () => converters.flatMap(done).length, (n) => n >= GROUPS, 30_000);
    const cpu1 = converters.map((b) => cpuMs(b.proc.pid));
    const wallMs = Date.now() - t0;
    const cpuSpent = cpu0.every((x) => x !== undefined) && cpu1.every((x) => x !== undefined) ? cpu1.reduce((a, x, i) => a + x! - cpu0[i]!, 0) : undefined;

    const images = (await sql<{ n: number; stamps: number }>`select count(*)::int as n, count(distinct (group_key, stamp_index))::int as stamps from images where state <> 'failed'`.execute(db)).rows[0];
    const pngPuts = (s3?.seen ?? []).filter((r) => r.method === 'PUT' && r.url.startsWith(`/${BUCKETS.quarantine}/`) && /\.png(\?|$)/.test(r.url)).map((r) => r.url.split('?')[0]);
    const jobs = converters.map(done);
    return {
      processes,
      stamps,
      seconds: (last - t0) / 1000,
      cpuMsPerStamp: cpuSpent === undefined ? undefined : cpuSpent / stamps,
      convertersCores: cpuSpent === undefined ? undefined : cpuSpent / wallMs,
      benchCores: (own.user + own.system) / 1000 / (ticks1 && ticks0 ? ((ticks1.total - ticks0.total) * 10) / availableParallelism() : wallMs),
      machineCores: ticks0 && ticks1 ? (availableParallelism() * (ticks1.busy - ticks0.busy)) / (ticks1.total - ticks0.total) : undefined,
      rows: images.n,
      distinctStamps: images.stamps,
      pngPuts: s3 ? pngPuts.length : undefined,
      distinctPngPuts: s3 ? new Set(pngPuts).size : undefined,
      jobsPerProcess: jobs.map((j) => j.length),
      distinctJobs: new Set(jobs.flat()).size,
    };
  } finally {
    await Promise.all(bridges.map(stop));
    await queues?.close();
    await db?.destroy();
    await s3?.stop();
    await redis.stop();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Wall time of `n` processes each running the same pure-CPU loop at once, s. */
function cpuLoop(n: number): number {
  const script = `let x = 0; for (let i = 0; i < 6e8; i++) x = (x + i * 7) % 1000003; if (x < 0) console.log(x);`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', Array.from({ length: n }, () => `${JSON.stringify(process.execPath)} -e ${JSON.stringify(script)} &`).join(' ') + ' wait']);
  if (r.status !== 0) throw new Error(`ceiling loop failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const dir = await mkdtemp(join(tmpdir(), 'bench-scale-data-'));
try {
  const tracts = Array.from({ length: Math.ceil(GROUPS / 4) }, (_, i) => 9000 + i);
  const layout: DemoLayout = { owner: 'bench', run: 'u/bench/scale', datasetType: 'zooniverse_cutout', tracts, patches: [40, 41, 42, 43].slice(0, Math.min(4, GROUPS)), stampsPerFile: PER_FILE, size: SIZE };
  if (tracts.length * layout.patches.length !== GROUPS) throw new Error('BENCH_GROUPS must be a multiple of 4');
  const root = join(dir, 'artifacts');
  await writeDemoArtifacts(root, layout);
  const stamps = GROUPS * PER_FILE;
  console.log(`bench:scale — ${stamps} stamps (${GROUPS} convert jobs of ${PER_FILE} stamps x 3 bands, ${SIZE}x${SIZE}, GZIP_2 tile-compressed), Postgres + Redis, ${availableParallelism()} cores`);
  console.log('worker processes: `bridge serve --role worker --queues convert`, CONVERT_THREADS=1 each; retrieval staged before the clock starts\n');
  const ceilingOne = cpuLoop(1);
  const ceilings = new Map(PROCESSES.filter((n) => n > 1).map((n) => [n, (n * ceilingOne) / cpuLoop(n)]));
  for (const store of STORES) for (const placement of PLACEMENTS) {
    const rounds: Round[] = [];
    for (const n of PROCESSES) rounds.push(await round(n, store, placement, root, layout, stamps));
    const one = rounds.find((r) => r.processes === 1);
    const rateOf = (r: Round) => r.stamps / r.seconds;
    console.log(store === 's3' ? '\nStore: the S3 test server (s3rver, running in this bench\'s process)' : '\nStore: the filesystem store, one directory shared by the processes');
    console.log(
      placement === 'pinned'
        ? 'Placement: pinned, converter process i on core i alone (taskset), as pods of one CPU each; Postgres, Redis and this bench run on any core'
        : 'Placement: shared, every process on every core, as on one machine',
    );
    console.log('processes  stamps/s  vs one  CPU ms/stamp  rows  stamps  PNG PUTs (distinct)  duplicates  lost  jobs per process');
    for (const r of rounds) {
      const dupes = r.rows - r.distinctStamps + ((r.pngPuts ?? 0) - (r.distinctPngPuts ?? 0));
      const lost = r.stamps - r.distinctStamps;
      const puts = r.pngPuts === undefined ? 'n/a' : `${r.pngPuts} (${r.distinctPngPuts})`;
      console.log(
        `${String(r.processes).padStart(9)}  ${rateOf(r).toFixed(1).padStart(8)}  ${(one ? rateOf(r) / rateOf(one) : NaN).toFixed(2).padStart(5)}x  ${(r.cpuMsPerStamp?.toFixed(1) ?? '?').padStart(12)}  ${String(r.rows).padStart(4)}  ${String(r.distinctStamps).padStart(6)}  ${puts.padStart(19)}  ${String(dupes).padStart(10)}  ${String(lost).padStart(4)}  ${r.jobsPerProcess.join(' + ')} = ${r.distinctJobs} distinct of ${GROUPS}`,
      );
    }
    for (const r of rounds) {
      if (r.machineCores === undefined || r.convertersCores === undefined) continue;
      const bench = store === 's3' ? `this bench's process (the S3 test server) ${r.benchCores.toFixed(2)}` : `this bench's process ${r.benchCores.toFixed(2)}`;
      console.log(`  ${r.processes} process${r.processes > 1 ? 'es' : ''}: the machine was ${r.machineCores.toFixed(2)} of ${availableParallelism()} cores busy: the converters ${r.convertersCores.toFixed(2)}, ${bench}, the rest (Postgres, Redis) ${(r.machineCores - r.convertersCores - r.benchCores).toFixed(2)}`);
    }
    for (const r of rounds.filter((x) => x.processes > 1)) {
      console.log(`  ${r.processes} processes: ${(one ? rateOf(r) / rateOf(one) : NaN).toFixed(2)}x one (target >= 1.8x); machine ceiling for ${r.processes} processes of a pure-CPU loop: ${ceilings.get(r.processes)!.toFixed(2)}x`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
