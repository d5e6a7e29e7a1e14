import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A private redis-server for dev, demo and tests when REDIS_URL is unset:
 * loopback only, a free port, nothing written to disk, noeviction (BullMQ
 * loses jobs under any eviction policy), stopped with the parent.
 */
export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

export class RedisNotInstalledError extends Error {
  override name = 'RedisNotInstalledError';
  constructor() {
    super('redis-server was not found on PATH: install it (Debian: apt-get install redis-server), or set REDIS_URL to a Redis you run');
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startLocalRedis(opts: { binary?: string; timeoutMs?: number; port?: number } = {}): Promise<LocalRedis> {
  // A given port brings a stopped server back where its clients point (fault tests restart Redis).
  const port = opts.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes'];
  const child: ChildProcess = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not become ready within ${timeoutMs} ms: ${out.slice(-500)}`));
      }, timeoutMs);
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(e.code === 'ENOENT' ? new RedisNotInstalledError() : e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with code ${code}: ${out.slice(-500)}`));
      });
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          // Detach, or later log lines would run this again and strip stop()'s exit listener.
          child.stdout!.off('data', onData);
          child.removeAllListeners('exit');
          child.removeAllListeners('error');
          resolve();
        }
      };
      child.stdout!.on('data', onData);
    });
  } catch (e) {
    process.removeListener('exit', stopOnExit);
    throw e;
  }
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
