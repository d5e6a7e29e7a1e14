import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runNode } from '../support/cli.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';

/**
 * Which modules a `bridge` run loads (issue 16): `--help` had loaded the
 * whole service stack (express, BullMQ, Kysely, PGlite, the AWS SDK, zod,
 * ...), ~0.7 s before anything was printed. Now a command's definition is
 * cheap and its work is imported when it runs: `--help` loads commander and
 * the command definitions, `convert` commander and the imaging library.
 * Each run reports the modules it loads through a module hook.
 */
interface Loaded {
  code: number | null;
  stdout: string;
  packages: Set<string>;
  files: string[];
}

async function bridgeLoading(args: string[]): Promise<Loaded> {
  const hook = join(import.meta.dirname, 'report-loaded-modules.mjs');
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const { code, stdout, stderr } = await runNode(['--import', 'tsx', '--import', hook, join(ROOT, 'src/cli/main.ts'), ...args], env);
  const urls = [...stderr.matchAll(/^loaded (file:\S+)$/gm)].map((m) => decodeURIComponent(new URL(m[1]).pathname));
  const packages = new Set(urls.map((p) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[1]).filter((p): p is string => !!p));
  const files = urls.filter((p) => p.startsWith(ROOT + '/') && !p.includes('/node_modules/')).map((p) => p.slice(ROOT.length + 1));
  return { code, stdout, packages, files };
}

/** Project files outside the CLI itself: what a command's definitions or work pulled in. */
const beyondCli = (files: string[]) => files.filter((f) => !f.startsWith('src/cli/'));

describe('bridge loads only what the command uses', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bridge-lazy-'));
    const s = syntheticStamp(16, 16, 3);
    for (const [b, band] of [[0, 'g'], [1, 'r'], [2, 'i']] as const) await writeStampsFile(join(dir, `${band}.fits`), 1, () => ({ plane: s[b] }), [{ ra: 150, dec: 2.2 }]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help loads commander and the command definitions, not the service stack or the converter', { timeout: 60_000 }, async () => {
    const r = await bridgeLoading(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: bridge');
    expect([...r.packages]).toEqual(['commander']);
    const beyond = beyondCli(r.files);
    // The version (package.json), the names of the colour presets convert offers as choices (not the colour
    // maths: preset-names.ts stands apart for this), and two small domain helpers.
    expect(beyond.filter((f) => !/^src\/(imaging\/(version|colour\/preset-names)|domain\/(errors|dataset-failure))\.ts$/.test(f))).toEqual([]);
    expect(r.files).toContain('src/cli/status-command.ts');
  });

  it('convert loads commander and the imaging library only, and converts', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out');
    const r = await bridgeLoading(['convert', ...['g', 'r', 'i'].flatMap((b) => ['--band', `${b}=${join(dir, `${b}.fits`)}`]), '--out', out, '--workers', '0']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 1, converted: 1, failed: 0 });
    expect((await readFile(join(out, 'stamps.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(1);
    expect([...r.packages]).toEqual(['commander']);
    expect(beyondCli(r.files).filter((f) => !/^src\/(imaging\/|domain\/(errors|dataset-failure)\.ts$)/.test(f))).toEqual([]);
    // The ZIP path's reader stays unloaded for FITS bands.
    expect(r.files).not.toContain('src/imaging/convert-zip.ts');
  });
});
