import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import type { Db } from '../../src/db/database.js';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { writeDemoArtifacts, type DemoLayout } from '../../src/demo/demo-data.js';
import { ButlerServerDouble, DOUBLE_TOKEN, type SeedDataset } from '../support/butler-server.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';
import { scratchDatabase, type ScratchDatabase } from '../support/upload-fixtures.js';
import { ROOT } from '../support/cli.js';
import { S3_CREDENTIALS, type S3Double } from '../support/s3-double.js';

/**
 * One deployment for a fault-matrix row, built from real parts: a Butler
 * server double holding the PI's run, a Panoptes double, real Redis (a
 * private redis-server the row may restart or flush), Postgres (a scratch
 * database of TEST_DATABASE_URL), the filesystem store, and worker processes
 * (`bridge serve --role worker` as users run it, or `--role all`) that the
 * row may kill -9. A policy that approves everything takes the images from
 * quarantine to Zooniverse without a reviewer.
 */
export const TRACTS = [9813, 9814];
export const PATCHES = [41, 42, 43];
export const STAMPS = 4;
export const BANDS = 3;
/** Images the run must end with: one per stamp of every group. */
export const EXPECTED = TRACTS.length * PATCHES.length * STAMPS;
export const DATASETS = TRACTS.length * PATCHES.length * BANDS;
const RUN = 'u/alien/faults';

export interface World {
  db: Db;
  kind: 'postgres';
  redis: LocalRedis;
  butler: ButlerServerDouble;
  zoo: PanoptesServerDouble;
  collectionId: string;
  env: Record<string, string>;
  /** Starts a bridge process (`serve --role <role>`, default worker). */
  start(role?: 'worker' | 'all' | 'api', extra?: Record<string, string>): ChildProcess;
  /** Kills every process started, with SIGKILL, and waits for them. */
  killAll(): Promise<void>;
  progress(): Promise<Progress>;
  close(): Promise<void>;
}

export interface Progress {
  artifacts: number;
  retrieved: number;
  images: number;
  judged: number;
  published: number;
  batches: number;
  uploaded: number;
}

export interface Outcome {
  /** Images in the database, by state. */
  states: Record<string, number>;
  /** Our subjects alive at Zooniverse, and how many external ids appear more than once. */
  subjects: number;
  duplicates: number;
  /** Images with no live subject (lost), and subjects in no set (unlinked). */
  lost: number;
  unlinked: number;
  /** Artifacts or batches not in a final state. */
  stuck: number;
}

async function seedDatasets(dir: string): Promise<SeedDataset[]> {
  const root = join(dir, 'demo');
  const layout: DemoLayout = { owner: 'alien', run: RUN, datasetType: 'zooniverse_cutout', tracts: TRACTS, patches: PATCHES, stampsPerFile: STAMPS, size: 32 };
  await writeDemoArtifacts(root, layout);
  const out: SeedDataset[] = [];
  for (const tract of TRACTS) {
    for (const patch of PATCHES) {
      const base = join(root, RUN, layout.datasetType, String(tract), String(patch));
      for (const band of await readdir(base)) {
        const [name] = await readdir(join(base, band));
        out.push({ id: randomUUID(), datasetType: layout.datasetType, run: RUN, dataId: { band, skymap: 'lsst_cells_v1', tract, patch }, ingestDate: new Date(Date.now() - 3600_000), bytes: new Uint8Array(await readFile(join(base, band, name))) });
      }
    }
  }
  return out;
}

export async function startWorld(o: { redisDb?: number; s3?: S3Double } = {}): Promise<World> {
  // The row reads progress while workers run: a shared database (PGlite is one process's).
  if (!process.env.TEST_DATABASE_URL) throw new Error('the fault matrix needs Postgres: set TEST_DATABASE_URL');
  const kind = 'postgres' as const;
  const dir = await mkdtemp(join(tmpdir(), 'faults-'));
  const scratch: ScratchDatabase = await scratchDatabase(kind);
  const redis = await startLocalRedis();
  const butler = await ButlerServerDouble.start({ repository: 'dp02' });
  butler.seed(...(await seedDatasets(dir)));
  const zoo = await PanoptesServerDouble.start();
  const policy = join(dir, 'approve-all.yaml');
  await writeFile(policy, ['name: fault-matrix', 'version: "1"', 'evaluation: first_match', 'rules:', '  - id: everything', '    description: the fault matrix needs no reviewer', '    condition: [const, true]', '    effects: [{ action: auto_approve, reason: fault-matrix data }]', ''].join('\n'));
  const env: Record<string, string> = {
    BRIDGE_MODE: 'dev',
    LOG_LEVEL: 'warn',
    DATA_DIR: join(dir, 'data'),
    ARTIFACT_ROOT: join(dir, 'artifacts'),
    REDIS_URL: `${redis.url}/${o.redisDb ?? 0}`,
    POLICY_FILE: policy,
    BUTLER_URL: butler.url,
    BUTLER_TOKEN: DOUBLE_TOKEN,
    BUTLER_RETRY_BASE_MS: '20',
    ZOONIVERSE_BASE_URL: zoo.url,
    ZOONIVERSE_CLIENT_ID: PANOPTES_CLIENT_ID,
    ZOONIVERSE_CLIENT_SECRET: PANOPTES_CLIENT_SECRET,
    // Work a killed worker held is taken up after 2 s, lost work re-queued by the sweep every 5 s.
    JOB_LOCK_SECONDS: '2',
    SWEEP_INTERVAL_SECONDS: '5',
    PORT: '0',
  };
  env.DATABASE_URL = scratch.target;
  if (o.s3) {
    Object.assign(env, {
      STORAGE: 's3',
      S3_ENDPOINT: o.s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      S3_QUARANTINE_BUCKET: 'fault-quarantine',
      S3_PUBLIC_BUCKET: 'fault-public',
      S3_REQUEST_TIMEOUT_SECONDS: '2',
    });
  }
  const db = await scratch.open();
  const repos = createRepositories(db);
  const c = await createCollection(db, { owner: 'alien', repository: 'dp02', name: RUN, sourceKind: 'butler', sourceRoot: null, datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: '1', subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dp0.2') }, 'alien');
  await db.updateTable('collections').set({ upload_mode: 'api', max_batch_size: 8 }).where('id', '=', c.id).execute();
  await repos.projectBindings.approve({ username: 'alien', projectId: '1', approvedBy: 'fault-matrix' });

  const children: ChildProcess[] = [];
  const w: World = {
    db,
    kind,
    redis,
    butler,
    zoo,
    collectionId: c.id,
    env,
    start(role = 'worker', extra = {}) {
      const args = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--role', role];
      const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      child.once('exit', (code, signal) => {
        if (code && signal !== 'SIGKILL') process.stderr.write(`[fault-matrix] bridge ${role} exited ${code}: ${err}\n`);
      });
      children.push(child);
      return child;
    },
    async killAll() {
      await Promise.all(children.filter((ch) => ch.exitCode === null && ch.signalCode === null).map((ch) => new Promise((r) => (ch.once('exit', r), ch.kill('SIGKILL')))));
    },
    // The observer's own pooled connections die too when a row terminates every backend: read again on a fresh one.
    async progress() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await readProgress(db, c.id);
        } catch (e) {
          if (attempt >= 5 || !/terminat|Connection ended|ECONNRESET|administrator command/i.test((e as Error).message)) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    async close() {
      await w.killAll();
      await db.destroy();
      await zoo.close();
      await butler.close();
      await w.redis.stop();
      await scratch.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return w;
}

export async function readProgress(db: Db, collectionId: string): Promise<Progress> {
  const r = await sql<Progress>`select
      (select count(*)::int from artifacts where collection_id = ${collectionId}) as artifacts,
      (select count(*)::int from artifacts where collection_id = ${collectionId} and state <> 'discovered') as retrieved,
      (select count(*)::int from images where collection_id = ${collectionId}) as images,
      (select count(*)::int from images where collection_id = ${collectionId} and verdict is not null) as judged,
      (select count(*)::int from images where collection_id = ${collectionId} and public_key is not null) as published,
      (select count(*)::int from upload_batches where collection_id = ${collectionId}) as batches,
      (select count(*)::int from images where collection_id = ${collectionId} and state = 'uploaded') as uploaded`.execute(db);
  return r.rows[0];
}

/** What the run ended with, against what it must end with. */
export async function outcome(w: World): Promise<Outcome> {
  const db = w.db;
  const states = Object.fromEntries((await db.selectFrom('images').select(['state', sql<number>`count(*)::int`.as('n')]).where('collection_id', '=', w.collectionId).groupBy('state').execute()).map((r) => [r.state, r.n]));
  const items = await db.selectFrom('upload_items').innerJoin('upload_batches', 'upload_batches.id', 'upload_items.upload_batch_id').select(['upload_items.external_id', 'upload_items.subject_id', 'upload_batches.subject_set_id']).where('upload_batches.collection_id', '=', w.collectionId).execute();
  const ours = new Set(items.map((i) => i.external_id));
  const live = w.zoo.allSubjects({ includeDeleted: false }).filter((s) => ours.has(s.externalId ?? ''));
  const liveIds = new Set(live.map((s) => s.externalId));
  const images = await db.selectFrom('images').select('id').where('collection_id', '=', w.collectionId).execute();
  const lost = images.length < EXPECTED ? EXPECTED - images.length : 0;
  const missing = items.filter((i) => !liveIds.has(i.external_id)).length;
  const setMembers = new Set(items.flatMap((i) => (i.subject_set_id ? w.zoo.setMembers(i.subject_set_id) : [])));
  const unlinked = live.filter((s) => !setMembers.has(s.id)).length;
  const stuckArtifacts = await db.selectFrom('artifacts').select(sql<number>`count(*)::int`.as('n')).where('collection_id', '=', w.collectionId).where('state', '<>', 'converted').executeTakeFirstOrThrow();
  const stuckBatches = await db.selectFrom('upload_batches').select(sql<number>`count(*)::int`.as('n')).where('collection_id', '=', w.collectionId).where('state', '<>', 'uploaded').executeTakeFirstOrThrow();
  return { states, subjects: live.length, duplicates: w.zoo.duplicateExternalIds().length, lost: lost + missing, unlinked, stuck: stuckArtifacts.n + stuckBatches.n };
}

export function finished(p: Progress): boolean {
  return p.uploaded >= EXPECTED;
}
