/**
 * CLI start-up, as whole processes (issue 16): how long a user waits for
 * `bridge --help`, `--version`, `convert` and `status`, each beside a bare
 * `node -e 0` measured in the same run (on a busy or slow machine every row
 * grows; the difference to `node -e 0` is the bridge's own share).
 *
 * Run after `npm run build` (bin/bridge.js runs dist/): `npx tsx bench/startup.ts`.
 * `startupRows()` is exported for bench/convert.ts.
 *
 * Each command runs RUNS times, the commands interleaved round-robin so that
 * a change in the machine's load falls on every row alike; the median is
 * reported.
 *
 * `convert ready` is measured from outside, with no hook in the bridge: the
 * whole process converting ONE 16x16 stamp of three bands (Stamps layout,
 * with MASK and VARIANCE) in-process (--workers 0), from spawn to exit. The
 * conversion of one 16x16 stamp is tens of microseconds, so the figure is
 * start-up + reading the headers + writing one small PNG and stamps.jsonl:
 * an upper bound on the time until convert is ready to read its input.
 *
 * `status` runs against an embedded PGlite database migrated beforehand
 * (BRIDGE_MODE=dev, a temporary DATA_DIR): it includes opening the database,
 * which dominates; it has no target, it is there to be watched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/bridge.js');

export interface StartupRow {
  name: string;
  /** Median wall time of the whole process, ms. */
  medianMs: number;
  minMs: number;
  runs: number;
  /** The issue's target for this row, ms, if it has one. */
  targetMs?: number;
}

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  targetMs?: number;
  /** Called before each run (e.g. a fresh output directory). */
  before?: (run: number) => string[];
}

function timeOnce(args: string[], env: Record<string, string> | undefined): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env }, cwd: ROOT });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}: ${r.stderr.toString().slice(0, 500)}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Measures the rows; `runs` per command (>= 10 for the issue's figures), `status` can be left out (it is the slow one). */
export async function startupRows(o: { runs?: number; status?: boolean } = {}): Promise<StartupRow[]> {
  const runs = o.runs ?? 11;
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = await mkdtemp(join(tmpdir(), 'bridge-startup-'));
  try {
    // The imaging library from dist/, as bin/bridge.js runs it; imported here so the bench itself starts without it.
    const { syntheticStamp } = await import(new URL('../dist/src/imaging/synthetic.js', import.meta.url).href);
    const { writeStampsFile } = await import(new URL('../dist/src/imaging/fits/stamps-writer.js', import.meta.url).href);
    const stamp = syntheticStamp(16, 16, 1);
    for (const [b, band] of [[0, 'g'], [1, 'r'], [2, 'i']] as const) {
      await writeStampsFile(join(dir, `${band}.fits`), 1, () => ({ plane: stamp[b] }), [{ ra: 150, dec: 2.2 }]);
    }
    const bands = ['g', 'r', 'i'].flatMap((b) => ['--band', `${b}=${join(dir, `${b}.fits`)}`]);
    const cases: Case[] = [
      { name: 'node -e 0 (reference)', args: ['-e', '0'] },
      { name: 'bridge --help', args: [BIN, '--help'], targetMs: 150 },
      { name: 'bridge --version', args: [BIN, '--version'] },
      { name: 'bridge convert ready (1 tiny stamp)', args: [], targetMs: 250, before: (k) => [BIN, 'convert', ...bands, '--workers', '0', '--out', join(dir, `out-${k}`)] },
    ];
    if (o.status !== false) {
      const env = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' };
      timeOnce([BIN, 'migrate'], env);
      cases.push({ name: 'bridge status (embedded PGlite)', args: [BIN, 'status'], env });
    }
    const times = cases.map(() => [] as number[]);
    // One untimed round: the file system cache and the compile cache are warm for every row alike.
    for (const c of cases) timeOnce(c.before ? c.before(-1) : c.args, c.env);
    for (let k = 0; k < runs; k++) cases.forEach((c, i) => times[i].push(timeOnce(c.before ? c.before(k) : c.args, c.env)));
    return cases.map((c, i) => ({ name: c.name, medianMs: median(times[i]), minMs: Math.min(...times[i]), runs, ...(c.targetMs ? { targetMs: c.targetMs } : {}) }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The rows as a table: the median, the same minus `node -e 0` (the bridge's own share), the target. */
export function formatStartupRows(rows: StartupRow[]): string {
  const ref = rows.find((r) => r.name.startsWith('node -e 0'))?.medianMs ?? 0;
  const lines = [`${'whole process'.padEnd(38)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'- node -e 0'.padStart(12)}  target`];
  for (const r of rows) {
    const own = r.name.startsWith('node -e 0') ? '' : `+${(r.medianMs - ref).toFixed(0)} ms`;
    const target = r.targetMs ? `<= ${r.targetMs} ms: ${r.medianMs <= r.targetMs ? 'met' : 'NOT met'}` : '';
    lines.push(`${r.name.padEnd(38)} ${`${r.medianMs.toFixed(0)} ms`.padStart(8)} ${`${r.minMs.toFixed(0)} ms`.padStart(8)} ${own.padStart(12)}  ${target}`);
  }
  lines.push(`(median of ${rows[0]?.runs ?? 0} runs each, interleaved; on a loaded machine compare the "- node -e 0" column)`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await startupRows({ status: !process.argv.includes('--no-status') });
  process.stdout.write(formatStartupRows(rows) + '\n');
}
