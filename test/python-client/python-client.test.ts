import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWith } from '../support/python.js';

/**
 * The Python client (clients/python) and its tutorial notebook against the
 * real bridge: one bridge (test/support/python-bridge.ts: OIDC provider, API
 * and workers on Redis + PGlite, a contract Butler server) serves both the
 * pytest suite and the notebook, executed top to bottom with nbclient and its
 * outputs checked (registration, quarantine, progress, results). So an
 * interface drift between the API and the client or the tutorial fails
 * `npm test`. Skips, saying which, only when Debian's Python modules are missing.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const MODULES = ['pytest', 'requests', 'pandas', 'astropy', 'nbclient', 'nbformat', 'ipykernel'];
const python = pythonWith(MODULES);
if (!python) {
  const r = spawnSync('/usr/bin/python3', ['-c', `import importlib.util as u; print(' '.join(m for m in ${JSON.stringify(MODULES)} if not u.find_spec(m)))`], { encoding: 'utf8' });
  console.warn(`python-client tests skipped: no Python with ${MODULES.join(', ')} (missing in /usr/bin/python3: ${r.stdout?.trim() || 'python3 itself'}); apt-get install python3-pytest python3-requests python3-pandas python3-astropy python3-nbclient python3-ipykernel`);
}
const suite = python ? describe : describe.skip;

interface Live {
  url: string;
  control: string;
  tokens: Record<string, string>;
}

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

suite('the Python client and the tutorial notebook, on a real bridge', () => {
  let harness: ChildProcess | undefined;
  let line = '';
  let live: Live;

  beforeAll(async () => {
    harness = spawn(process.execPath, ['--import', 'tsx', 'test/support/python-bridge.ts', '--volunteers', 'u/alien/galaxy-cutouts'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: harness!.stdout! });
      rl.once('line', resolve);
      harness!.once('exit', (code) => reject(new Error(`python-bridge exited (${code}) before printing its address`)));
    });
    live = JSON.parse(line) as Live;
  }, 60_000);

  afterAll(async () => {
    if (!harness || harness.exitCode !== null) return;
    const exited = new Promise((r) => harness!.once('exit', r));
    // Closing its stdin stops it and removes its temporary files.
    harness.stdin?.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (harness.exitCode === null) harness.kill('SIGTERM');
  }, 30_000);

  it('passes the pytest suite: registration, validation, forbidden, metadata, status, results, contract, retries', async () => {
    const r = await run(python!, ['-m', 'pytest', 'clients/python/tests', '-q', '-p', 'no:cacheprovider'], { PYTHON_BRIDGE: line }, 120_000);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/\d+ passed/);
    expect(r.out).not.toMatch(/\d+ (failed|skipped|errors?)\b/);
  }, 130_000);

  it('runs the getting-started notebook end to end with its outputs checked', async () => {
    const r = await run(python!, ['clients/python/tests/run_notebook.py'], { BRIDGE_URL: live.url, ACCESS_TOKEN: live.tokens.alien, PYDEVD_DISABLE_FILE_VALIDATION: '1' }, 120_000);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('ran end to end; registration, quarantine, progress, preview and results checked');
  }, 130_000);
});
