import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { bullmqConnection } from '../../src/adapters/queue/redis-connection.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { startLocalRedis } from '../../src/adapters/redis/redis-server.js';
import { deploymentQueuePrefix } from '../../src/db/deployment.js';
import { faultMix } from '../support/upload-fixtures.js';
import type { Fault as PanoptesFault } from '../support/panoptes-server.js';
import { rng } from '../../src/imaging/synthetic.js';
import { startS3Double, type S3Double, type Seen } from '../support/s3-double.js';
import { DATASETS, EXPECTED, finished, outcome, startWorld, type Outcome, type Progress, type World } from './world.js';

/**
 * The fault matrix (`npm run test:faults`): one collection of 24 stamps in
 * 18 Butler datasets run from poll to Zooniverse subjects by real worker
 * processes, under one kind of trouble per row. Every row must end with
 * every stamp exactly once in its final state: uploaded, one live subject
 * each, linked to its set; 0 duplicates, 0 lost, 0 stuck. The table is
 * printed at the end.
 */
const KILLS = Number(process.env.FAULT_KILLS ?? 10);
const ROW_TIMEOUT_MS = 240_000;
const suite = process.env.TEST_DATABASE_URL ? describe : describe.skip;
const rows: { row: string; injected: string; ms: number; o: Outcome }[] = [];

afterAll(() => {
  if (!rows.length) return;
  const head = ['fault', 'injected', 'images uploaded', 'subjects', 'duplicates', 'lost', 'unlinked', 'stuck', 'seconds'];
  const lines = rows.map((r) => [r.row, r.injected, `${r.o.states.uploaded ?? 0}/${EXPECTED}`, String(r.o.subjects), String(r.o.duplicates), String(r.o.lost), String(r.o.unlinked), String(r.o.stuck), (r.ms / 1000).toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(['', 'Fault matrix', fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt), ''].join('\n') + '\n');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Queues the collection's first poll, as registration does. */
async function kickOff(w: World): Promise<void> {
  const q = new BullMqJobQueue(bullmqConnection(w.env.REDIS_URL), await deploymentQueuePrefix(w.db));
  try {
    await q.add('poll', { collectionId: w.collectionId });
  } finally {
    await q.close();
  }
}

/** Waits for the run to finish (every image uploaded) and for nothing more to move. */
async function settle(w: World, started: number): Promise<void> {
  let p: Progress;
  while (!finished((p = await w.progress()))) {
    if (performance.now() - started > ROW_TIMEOUT_MS) throw new Error(`not finished after ${ROW_TIMEOUT_MS / 1000} s: ${JSON.stringify(p)}`);
    await sleep(200);
  }
  // Late duplicates would show up now: give running jobs a moment.
  await sleep(1500);
}

/** Runs a row: `during` injects the trouble while the run goes on; the outcome is checked and recorded. */
async function row(name: string, during: (w: World) => Promise<string | (() => string)>, o: { redisDb?: number; s3?: S3Double; start?: (w: World) => void } = {}): Promise<Outcome> {
  const w = await startWorld({ redisDb: o.redisDb, s3: o.s3 });
  try {
    const t0 = performance.now();
    (o.start ?? ((x) => x.start('worker')))(w);
    await kickOff(w);
    const said = await during(w);
    await settle(w, t0);
    const out = await outcome(w);
    // A function reports what was injected once the run is over (faults that fire at a rate).
    const injected = typeof said === 'function' ? said() : said;
    rows.push({ row: name, injected, ms: performance.now() - t0, o: out });
    return out;
  } finally {
    await w.close();
  }
}

function expectExactlyOnce(o: Outcome): void {
  expect(o).toMatchObject({ states: { uploaded: EXPECTED }, subjects: EXPECTED, duplicates: 0, lost: 0, unlinked: 0, stuck: 0 });
}

/**
 * kill -9 of the worker whenever `hook` says the stage is under way, up to
 * KILLS times, each followed by a fresh worker. Returns how many kills landed.
 */
async function killsDuring(w: World, armed: (w: World, kill: () => void) => () => void, active: (p: Progress) => boolean): Promise<number> {
  let kills = 0;
  let pending = false;
  const disarm = armed(w, () => (pending = true));
  try {
    while (kills < KILLS) {
      const p = await w.progress();
      if (finished(p)) break;
      if (pending || active(p)) {
        pending = false;
        await w.killAll();
        kills++;
        w.start('worker');
      }
      await sleep(25);
    }
  } finally {
    disarm();
  }
  return kills;
}

/** Arms a kill on requests of `route` to a double: the worker dies while it waits for the answer. */
function onRequest<T extends { route: string }>(list: T[], match: (r: T) => boolean, seed: number, spread = 3) {
  return (_w: World, kill: () => void) => {
    const draw = rng(seed);
    let countdown = 1 + Math.floor(draw() * spread);
    const push = list.push.bind(list);
    list.push = (...items: T[]) => {
      const n = push(...items);
      if (items.some(match) && --countdown <= 0) {
        countdown = 1 + Math.floor(draw() * spread);
        kill();
      }
      return n;
    };
    return () => {
      list.push = push;
    };
  };
}

const never = () => false;
const nothing = () => () => {};

suite('fault matrix: every stamp exactly once, whatever breaks', () => {
  it('kill -9 in poll', async () => {
    const o = await row('kill -9 in poll (Butler listing in flight)', async (w) => `${await killsDuring(w, onRequest(w.butler.requests, (r) => r.route === 'all_datasets', 1, 1), never)} kills`);
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('kill -9 in retrieve', async () => {
    const o = await row('kill -9 in retrieve (download in flight)', async (w) => `${await killsDuring(w, onRequest(w.butler.requests, (r) => r.route === 'storage' || r.route === 'get_file', 2), never)} kills`);
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  for (const [stage, active] of [
    ['convert', (p: Progress) => p.retrieved >= DATASETS / 2 && p.images < EXPECTED],
    ['evaluate', (p: Progress) => p.images > 0 && p.judged < EXPECTED],
    ['publish', (p: Progress) => p.judged > 0 && p.published < EXPECTED],
    ['manifest', (p: Progress) => p.published > 0 && p.batches < EXPECTED / 8],
  ] as const) {
    it(`kill -9 in ${stage}`, async () => {
      const o = await row(`kill -9 in ${stage}`, async (w) => `${await killsDuring(w, nothing, active)} kills`);
      expectExactlyOnce(o);
    }, ROW_TIMEOUT_MS + 60_000);
  }

  it('kill -9 in upload', async () => {
    const o = await row('kill -9 in upload (subject create in flight)', async (w) => `${await killsDuring(w, onRequest(w.zoo.requests, (r) => r.route === 'createSubject', 3), never)} kills`);
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('Redis restarted and flushed mid-run', async () => {
    const o = await row('Redis flushed and restarted mid-run', async (w) => {
      while ((await w.progress()).images === 0) await sleep(25);
      const port = Number(new URL(w.env.REDIS_URL).port);
      await w.redis.stop();
      // A new, empty Redis where the old one was: every queued job and schedule is gone.
      w.redis = await startLocalRedis({ port });
      return 'stop, empty start on the same port';
    });
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('Postgres connections dropped mid-run', async () => {
    const o = await row('Postgres connections dropped mid-run', async (w) => {
      let n = 0;
      for (const at of [(p: Progress) => p.retrieved > 0, (p: Progress) => p.images > 0, (p: Progress) => p.published > 0, (p: Progress) => p.uploaded > 0]) {
        while (!at(await w.progress())) await sleep(25);
        const c = new pg.Client({ connectionString: w.env.DATABASE_URL });
        await c.connect();
        const r = await c.query('select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
        await c.end();
        n += r.rows[0].n;
      }
      return `4 times, ${n} connections`;
    });
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('S3 answering 500 and 503, and timing out', async () => {
    const s3 = await startS3Double(['fault-quarantine', 'fault-public']);
    try {
      const o = await row(
        'S3 500s, 503 SlowDown and timeouts',
        async () => {
          const puts = (r: Seen) => r.method === 'PUT';
          const gets = (r: Seen) => r.method === 'GET';
          s3.faults.push(
            { match: puts, remaining: 8, action: { status: 500, code: 'InternalError' } },
            { match: puts, remaining: 8, action: { status: 503, code: 'SlowDown' } },
            { match: gets, remaining: 6, action: { status: 503, code: 'SlowDown' } },
            { match: () => true, remaining: 3, action: { stallMs: 5_000 } },
          );
          return '16 PUT 500/503, 6 GET 503, 3 stalls past the 2 s timeout';
        },
        { s3 },
      );
      expectExactlyOnce(o);
      expect(s3.faults.every((f) => f.remaining === 0)).toBe(true);
    } finally {
      await s3.stop();
    }
  }, ROW_TIMEOUT_MS + 60_000);

  it('Butler 503 storms and cut streams', async () => {
    const o = await row('Butler 503 storm, cut streams and resets', async (w) => {
      w.butler.failNext(12, { status: 503, retryAfter: 0 });
      w.butler.truncateNextStream({ times: 2 });
      w.butler.resetNextConnection({ route: 'storage', times: 4 });
      return '12 x 503, 2 cut listings, 4 resets';
    });
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('Panoptes 504-after-commit, 502, 429, token expiry and missing optional fields', async () => {
    const o = await row('Panoptes faults (504 after commit, resets, 429, 502, expired tokens, fields missing)', async (w) => {
      const mix = faultMix(0.5, 7);
      const omit: PanoptesFault = { route: ['createSubject', 'listSubjects', 'createSubjectSet'], kind: 'omit-fields', fields: ['created_at', 'updated_at'], rate: 0.5, seed: 9 };
      // Tokens that die mid-run, for certain (the mix draws them at a rate).
      const expire: PanoptesFault = { route: 'createSubject', kind: 'expire-token', skip: 3, times: 2 };
      w.zoo.faults.push(expire, ...mix, omit);
      return () => {
        const fired = (kind: string) => mix.filter((f) => f.kind === kind).reduce((n, f) => n + (f.fired ?? 0), 0);
        const throttled = mix.filter((f) => f.status === 429).reduce((n, f) => n + (f.fired ?? 0), 0);
        const failed502 = mix.filter((f) => f.status === 502).reduce((n, f) => n + (f.fired ?? 0), 0);
        return `${fired('commit-then-504')} x 504 after commit, ${fired('commit-then-reset') + fired('reset')} resets, ${throttled} x 429, ${failed502} x 502, ${fired('expire-token') + (expire.fired ?? 0)} tokens expired, ${omit.fired ?? 0} answers without timestamps`;
      };
    });
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);

  it('two workers and an API on shared Postgres and Redis (database 3)', async () => {
    const o = await row(
      'two workers + API, REDIS_URL .../3',
      async () => 'split roles',
      {
        redisDb: 3,
        start: (w) => {
          w.start('worker');
          w.start('worker');
          w.start('api');
        },
      },
    );
    expectExactlyOnce(o);
  }, ROW_TIMEOUT_MS + 60_000);
});
