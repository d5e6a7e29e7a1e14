import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/** `bridge demo` as a newcomer runs it: private Redis, PGlite, the shipped policy. */
describe('bridge demo', () => {
  it('walks through conversion, the policy and review: 100 pending, 20 over the cap, approved by the demo reviewer, with the page URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-test-'));
    try {
      const env = { ...process.env, LOG_LEVEL: 'warn' } as Record<string, string>;
      delete env.REDIS_URL;
      delete env.DATABASE_URL;
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'demo', '--dir', dir, '--auto-approve'], { cwd: ROOT, env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/images: +\{"quarantined":100,"rejected":20\}/);
      expect(out.stdout).toMatch(/policy rubin-default@[\w.-]+: (pending_review 100, rejected 20|rejected 20, pending_review 100)/);
      expect(out.stdout).toMatch(/npx bridge policy explain [0-9a-f-]{36}/);
      expect(out.stdout).toMatch(/approved 100 images as epo-demo-reviewer/);
      expect(out.stdout).toMatch(/export for the Zooniverse Project Builder: .*export\.zip \(100 images, 100 with coordinates stripped\)/);
      expect(out.stdout).toMatch(/reviewer page: http:\/\/127\.0\.0\.1:\d+\/review/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
