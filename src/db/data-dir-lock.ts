import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The embedded database (PGlite) is one Postgres inside one process: two
 * processes opening the same data directory each believe they own it, and
 * what one writes the other overwrites (a registration acknowledged with 201
 * was gone after shutdown). So the first process takes `bridge.pid` in the
 * directory and any other is refused, saying how to run several processes.
 * A file left by a process that died is taken over. Returns the release.
 */
export class DataDirInUseError extends Error {}

const held = new Set<string>();

export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(resolve(dir), 'bridge.pid');
  if (held.has(path)) throw inUse(dir, `this process (${process.pid}) already has it open`);
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const f = await open(path, 'wx');
      await f.writeFile(me);
      await f.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const [pid, host] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      if (alive(Number(pid), host)) throw inUse(dir, `process ${pid}${host && host !== hostname() ? ` on ${host}` : ''} has it open`);
      // Left behind by a process that is gone: take it over.
      await unlink(path).catch(() => {});
    }
  }
  held.add(path);
  return async () => {
    held.delete(path);
    const now = await readFile(path, 'utf8').catch(() => '');
    if (now === me) await unlink(path).catch(() => {});
  };
}

function alive(pid: number, host: string | undefined): boolean {
  // Another machine's process cannot be checked from here: assume it is alive.
  if (host && host !== hostname()) return true;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dir: string, who: string): DataDirInUseError {
  return new DataDirInUseError(
    `DATA_DIR ${dir}: the embedded database is in use (${who}). It serves one process at a time: stop the other process, or set DATABASE_URL to a shared Postgres (and REDIS_URL) to run several processes, e.g. bridge serve --role api and --role worker`,
  );
}
