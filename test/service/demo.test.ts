import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBridge, standaloneEnv, type CliRun } from '../support/cli.js';
import { PANOPTES_CLIENT_ID, PANOPTES_CLIENT_SECRET, PanoptesServerDouble } from '../support/panoptes-server.js';

describe('bridge serve without configuration', () => {
  it('refuses to start in production (the default), listing what production needs and pointing at BRIDGE_MODE=dev', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const out = await runBridge(['serve'], env);
    expect(out.code).not.toBe(0);
    for (const k of ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'SESSION_SECRET', 'PUBLIC_BASE_URL', 'BRIDGE_MODE=dev']) expect(out.stderr).toContain(k);
  });

  it('refuses dev mode on a non-loopback HOST, naming HOST and BRIDGE_MODE', async () => {
    const out = await runBridge(['serve'], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BRIDGE_MODE: 'dev', HOST: '0.0.0.0' });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/HOST: "0\.0\.0\.0" is not a loopback address, and BRIDGE_MODE=dev/);
  });
});

/** `bridge demo` as a newcomer runs it: private Redis, PGlite, the shipped policy. */
describe('bridge demo', () => {
  it('walks through conversion, the policy and review: 100 pending, 20 over the cap, approved by the demo reviewer, with the page URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-test-'));
    try {
      const env = standaloneEnv({ LOG_LEVEL: 'warn' });
      // Without the demo Panoptes server: the demo stops after the export (demo-results.test.ts runs it with).
      const out = await runDemo(['--auto-approve', '--no-simulate-zooniverse'], dir, env);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/images: +\{"quarantined":100,"rejected":20\}/);
      expect(out.stdout).toMatch(/policy rubin-default@[\w.-]+: (pending_review 100, rejected 20|rejected 20, pending_review 100)/);
      expect(out.stdout).toMatch(/npx bridge policy explain [0-9a-f-]{36}/);
      expect(out.stdout).toMatch(/approved 100 images as epo-demo-reviewer/);
      expect(out.stdout).toMatch(/export for the Zooniverse Project Builder: .*export\.zip \(100 images, 100 with coordinates stripped\)/);
      expect(out.stdout).toMatch(/reviewer page: http:\/\/127\.0\.0\.1:\d+\/review/);
      expect(out.stdout).toMatch(/no Zooniverse upload: set ZOONIVERSE_CLIENT_ID and ZOONIVERSE_CLIENT_SECRET/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('ends with the real upload when Zooniverse credentials and a project are given: 100 subjects, once each', async () => {
    const zoo = await PanoptesServerDouble.start();
    const dir = await mkdtemp(join(tmpdir(), 'demo-upload-test-'));
    try {
      const env = { ...process.env, LOG_LEVEL: 'warn', ZOONIVERSE_BASE_URL: zoo.url, ZOONIVERSE_CLIENT_ID: PANOPTES_CLIENT_ID, ZOONIVERSE_CLIENT_SECRET: PANOPTES_CLIENT_SECRET } as Record<string, string>;
      delete env.REDIS_URL;
      delete env.DATABASE_URL;
      // No --dir: the demo keeps its data under DATA_DIR, not in the checkout.
      env.DATA_DIR = dir;
      const out = await runBridge(['demo', '--auto-approve', '--zooniverse-project', '1'], env);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain(`under ${join(dir, 'demo', 'artifacts')}`);
      expect((await readdir(join(dir, 'demo'))).sort()).toEqual(expect.arrayContaining(['artifacts', 'export.zip']));
      const m = /uploaded (\d+) subjects to Zooniverse project 1 at (\S+) \(subject set (\d+)\)/.exec(out.stdout);
      expect(m, out.stdout).not.toBeNull();
      expect(m![1]).toBe('100');
      expect(m![2]).toBe(zoo.url);
      // What the demo says is what Zooniverse holds: 100 subjects in that set, none twice, none outside it.
      const members = zoo.setMembers(m![3]);
      expect(members).toHaveLength(100);
      expect(zoo.allSubjects({ includeDeleted: false })).toHaveLength(100);
      expect(zoo.duplicateExternalIds()).toEqual([]);
      // The policy stripped the coordinates of this public release: no positions reach Zooniverse.
      for (const s of zoo.allSubjects()) expect(Object.keys(s.metadata).filter((k) => k.startsWith('!'))).toEqual([]);
      expect(out.stdout).toMatch(/export for the Zooniverse Project Builder: .*export\.zip \(100 images/);
    } finally {
      await zoo.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

function runDemo(args: string[], dir: string, env: Record<string, string>): Promise<CliRun> {
  return runBridge(['demo', '--dir', dir, ...args], env);
}
