import { describe, expect, it } from 'vitest';
import { spawnLogged, type LoggedProcess } from '../support/logged-process.js';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startWorld, EXPECTED, TRACTS, PATCHES } from '../faults/world.js';
import { startS3Double } from '../support/s3-double.js';
import { ROOT, runBridge, standaloneEnv } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

/**
 * Scale-out by process kind (issue 16): users add worker processes on the
 * shared Postgres, Redis and S3, and may give some of them only the
 * conversion (`bridge serve --role worker --queues convert`). Here three
 * real `bridge serve` processes share one deployment: two take only convert
 * jobs, one (WORKER_QUEUES, the environment's way) every other queue. A
 * real poll -> retrieve -> convert -> policy run must put every stamp into
 * quarantine exactly once, and the conversion must be the convert-only
 * processes' work and theirs only.
 */
const GROUPS = TRACTS.length * PATCHES.length;
const ALL_BUT_CONVERT = 'poll,retrieve,review,publish,upload,notify,results,maintenance';

type Child = LoggedProcess;

function serve(env: Record<string, string>, args: string[]): Child {
  return spawnLogged(['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--role', 'worker', ...args], { cwd: ROOT, env, label: `[worker-queues] bridge serve ${args.join(' ')}` });
}

/** The jobs a process finished, as the runner logs them (debug level): name and job id. */
const jobsDone = (c: Child) => c.logs.filter((l) => l.msg === 'job done').map((l) => ({ job: String(l.job), jobId: String(l.jobId) }));
const started = (c: Child) => c.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('workers started')) as { queues: string[]; schedules: string[] } | undefined;

describe.skipIf(!process.env.TEST_DATABASE_URL)('worker processes serving chosen queues (bridge serve --queues)', () => {
  it('converts every stamp exactly once, in the convert-only processes, while another process runs the rest', { timeout: 300_000 }, async () => {
    const s3 = await startS3Double(['fault-quarantine', 'fault-public']);
    const w = await startWorld({ s3 });
    const children: Child[] = [];
    try {
      // Debug logs carry each finished job; a roomy S3 timeout for a machine shared with other work; one conversion thread each.
      const env = { ...process.env, ...w.env, LOG_LEVEL: 'debug', S3_REQUEST_TIMEOUT_SECONDS: '60', CONVERT_THREADS: '1' } as Record<string, string>;
      const converters = [serve(env, ['--queues', 'convert']), serve(env, ['--queues', 'convert'])];
      const others = serve({ ...env, WORKER_QUEUES: ALL_BUT_CONVERT }, []);
      children.push(...converters, others);

      await waitFor(() => w.progress(), (p) => p.judged >= EXPECTED, 240_000);

      // Each process says what it serves, and only the one running the sweep's and the polls' queues registers their schedules.
      for (const c of converters) expect(started(c)).toMatchObject({ queues: ['convert'], schedules: [] });
      expect(started(others)!.queues).toEqual(ALL_BUT_CONVERT.split(','));
      expect(started(others)!.schedules).toEqual(expect.arrayContaining(['sweep', 'polls']));

      // Every stamp is in quarantine once: one image row and one PNG written per stamp, none twice, none missing.
      const images = await sql<{ n: number; keys: number; stamps: number }>`select count(*)::int as n, count(distinct quarantine_key)::int as keys,
          count(distinct (group_key, stamp_index))::int as stamps from images where collection_id = ${w.collectionId} and state <> 'failed'`.execute(w.db);
      expect(images.rows[0]).toEqual({ n: EXPECTED, keys: EXPECTED, stamps: EXPECTED });
      const pngPuts = s3.seen.filter((r) => r.method === 'PUT' && r.url.startsWith('/fault-quarantine/') && /\.png(\?|$)/.test(r.url)).map((r) => r.url.split('?')[0]);
      expect(pngPuts).toHaveLength(EXPECTED);
      expect(new Set(pngPuts).size).toBe(EXPECTED);

      // The convert-only processes did every conversion (one job per band group, none run twice) and nothing else.
      const converted = converters.flatMap(jobsDone);
      expect(converted.every((j) => j.job === 'convert')).toBe(true);
      expect(new Set(converted.map((j) => j.jobId)).size).toBe(GROUPS);
      const rest = jobsDone(others);
      expect(rest.some((j) => j.job === 'convert')).toBe(false);
      expect([...new Set(rest.map((j) => j.job))]).toEqual(expect.arrayContaining(['poll', 'retrieve', 'evaluate']));
      expect(new Set(rest.filter((j) => j.job === 'retrieve').map((j) => j.jobId)).size).toBe(GROUPS * 3);
    } finally {
      await Promise.all(children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null).map((c) => new Promise((r) => (c.proc.once('exit', r), c.proc.kill('SIGKILL')))));
      await w.close();
      await s3.stop();
    }
  });
});

describe('choosing queues that do not exist', () => {
  it('is a usage error (exit 2) naming the valid queues, before anything starts', { timeout: 60_000 }, async () => {
    const r = await runBridge(['serve', '--role', 'worker', '--queues', 'convert,convrt'], standaloneEnv({ BRIDGE_MODE: 'dev' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('bridge: --queues convert,convrt: unknown queue "convrt"; the queues are poll, retrieve, convert, review, publish, upload, notify, results, maintenance\n');
  });

  it('is refused for an API-only process, which runs no workers', { timeout: 60_000 }, async () => {
    const r = await runBridge(['serve', '--role', 'api', '--queues', 'convert'], standaloneEnv({ BRIDGE_MODE: 'dev' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--role api runs none');
  });

  it('is a configuration error when WORKER_QUEUES names one, with the valid queues', { timeout: 60_000 }, async () => {
    const r = await runBridge(['serve', '--role', 'worker'], standaloneEnv({ BRIDGE_MODE: 'dev', WORKER_QUEUES: 'convert, thumbnails' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('WORKER_QUEUES: unknown queue "thumbnails"; the queues are poll, retrieve, convert, review, publish, upload, notify, results, maintenance');
  });
});
