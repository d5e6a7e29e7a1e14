import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runNode, type CliRun } from '../support/cli.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';

/**
 * `bridge` as users run it: bin/bridge.js, which runs the start-up bundle
 * dist/src/cli/main.bundle.js (scripts/bundle-cli.mjs) built by `npm ci` /
 * `npm run build`. The bundle must behave exactly like the compiled modules
 * (the same help, usage errors and exit codes as help-before-lazy.json), and
 * no module may be loaded twice, once inside the bundle and once from dist/:
 * a second copy of exit-codes.js would turn a command's UsageError (exit 2)
 * into a failure (exit 1).
 */
const BIN = join(ROOT, 'bin/bridge.js');
const BUNDLE = join(ROOT, 'dist/src/cli/main.bundle.js');
const HOOK = join(import.meta.dirname, 'report-loaded-modules.mjs');
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'help-before-lazy.json'), 'utf8')) as { help: Record<string, CliRun>; other: Record<string, CliRun> };
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: '/nonexistent-bridge-data' };

interface Run extends CliRun {
  /** Project files the process loaded, relative to the checkout. */
  loaded: string[];
}

async function runBin(args: string[]): Promise<Run> {
  const r = await runNode(['--import', HOOK, BIN, ...args], env);
  const loaded = [...r.stderr.matchAll(/^loaded file:\/\/(\S+)$/gm)].map((m) => decodeURIComponent(m[1])).filter((p) => p.startsWith(ROOT + '/')).map((p) => p.slice(ROOT.length + 1));
  return { code: r.code, stdout: r.stdout, stderr: r.stderr.replace(/^loaded \S+\n/gm, ''), loaded };
}

describe('bin/bridge.js runs the start-up bundle', () => {
  let dir: string;
  let bundled: string[];
  beforeAll(async () => {
    // CI builds dist/ (and the bundle) in `npm ci`; run `npm run build` after changing src/.
    expect(existsSync(BUNDLE), 'dist/src/cli/main.bundle.js is missing: run `npm run build`').toBe(true);
    bundled = (JSON.parse(await readFile(join(ROOT, 'dist/src/cli/main.bundle.json'), 'utf8')) as { bundled: string[] }).bundled;
    dir = await mkdtemp(join(tmpdir(), 'bridge-bundle-'));
    const s = syntheticStamp(16, 16, 3);
    for (const [b, band] of [[0, 'g'], [1, 'r'], [2, 'i']] as const) await writeStampsFile(join(dir, `${band}.fits`), 1, () => ({ plane: s[b] }), [{ ra: 150, dec: 2.2 }]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the command definitions and commander, and leaves the commands\' work outside', () => {
    expect(bundled).toEqual(expect.arrayContaining(['dist/src/cli/main.js', 'dist/src/cli/status-command.js', 'node_modules/commander/lib/command.js']));
    expect(bundled.filter((f) => /convert-run|inspect-run|\/app\/|\/db\/|workers\//.test(f))).toEqual([]);
  });

  it('prints the same help, version and usage errors, with the same exit codes', { timeout: 120_000 }, async () => {
    const cases = [...Object.keys(fixture.other).map((c) => JSON.parse(c) as string[]), ...['', 'convert', 'status', 'results recompute'].map((p) => [...(p ? p.split(' ') : []), '--help'])];
    const expected = [...Object.values(fixture.other), ...['', 'convert', 'status', 'results recompute'].map((p) => fixture.help[p])];
    for (const [i, args] of cases.entries()) {
      const r = await runBin(args);
      expect(r.loaded).toContain('dist/src/cli/main.bundle.js');
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, ...expected[i] });
    }
  });

  it('--help loads neither child_process nor the ES facade of node:fs', { timeout: 60_000 }, async () => {
    // Each costs ~4 ms of start-up (issue 16): commander requires child_process for executable subcommands, which
    // bridge has none of (the bundle gives it a stand-in that loads the module on first use), and an ES import of
    // node:fs loads Node's stream modules to build its exports (bin/bridge.js and version.ts require it instead).
    const r = await runNode(['--require', join(import.meta.dirname, 'report-builtins.cjs'), '--import', HOOK, BIN, '--help'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(fixture.help[''].stdout);
    const builtins = [...r.stderr.matchAll(/^builtin (\S+)$/gm)].map((m) => m[1]);
    expect(builtins).toContain('module');
    expect(builtins).not.toContain('child_process');
    expect([...r.stderr.matchAll(/^loaded (node:\S+)$/gm)].map((m) => m[1])).not.toContain('node:fs');
  });

  it('converts, and loads no module both inside the bundle and from dist/', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out');
    const r = await runBin(['convert', ...['g', 'r', 'i'].flatMap((b) => ['--band', `${b}=${join(dir, `${b}.fits`)}`]), '--out', out, '--workers', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 1, converted: 1, failed: 0 });
    // The conversion's work came from dist/ (lazily), the shared helpers once.
    expect(r.loaded).toEqual(expect.arrayContaining(['dist/src/cli/convert-run.js', 'dist/src/cli/exit-codes.js']));
    expect(r.loaded.filter((f) => bundled.includes(f))).toEqual([]);
  });

  it('a command\'s own usage error, thrown from a lazily loaded module, still exits 2', { timeout: 60_000 }, async () => {
    const r = await runBin(['convert', '--band', `g=${join(dir, 'g.fits')}`, '--preset', 'linear', '--q', '3', '--out', join(dir, 'x')]);
    expect(r.stderr).toContain('--stretch/--q/--minimum select the lupton mapping');
    expect(r.code).toBe(2);
    expect(r.loaded).toContain('dist/src/cli/convert-run.js');
    expect(r.loaded.filter((f) => bundled.includes(f))).toEqual([]);
  });
});
