import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs node with `args` as a process of its own, with exactly `env`, and collects what it printed. */
export function runNode(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `bridge <args>` from the sources as a process of its own, with exactly `env`. */
export function runBridge(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runNode(['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], env);
}

/**
 * This process's environment for a `bridge` child that must stand alone:
 * without the deployment settings a developer's shell or CI may carry (its
 * own Redis, embedded PGlite, no Zooniverse credentials), plus `extra`.
 */
export function standaloneEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = { ...process.env, ...extra } as Record<string, string>;
  for (const k of ['REDIS_URL', 'DATABASE_URL', 'ZOONIVERSE_CLIENT_ID', 'ZOONIVERSE_CLIENT_SECRET']) if (!(k in extra)) delete env[k];
  return env;
}
