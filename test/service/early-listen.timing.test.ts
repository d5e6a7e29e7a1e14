import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';

/**
 * `bridge serve` on the embedded PGlite opens its port at once: while the
 * database opens and migrates (seconds), /healthz answers, /readyz says
 * "starting" and other requests get a 503 with Retry-After, never a refused
 * connection. Run as users run it: the installed bin (dist/, built by npm ci).
 */
describe('bridge serve on PGlite', () => {
  let dir: string;
  let redis: LocalRedis;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'early-listen-'));
    redis = await startLocalRedis();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens within 2 s, answers 503 "starting" until the database is ready, then serves', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}`;
    const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), PORT: String(port), REDIS_URL: redis.url, LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    const started = performance.now();
    child = spawn(process.execPath, [join(ROOT, 'bin/bridge.js'), 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const get = async (path: string) => {
      const r = await fetch(url + path);
      return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, string> };
    };

    // Until the port opens the connection is refused; that is the only failure allowed.
    let first: Awaited<ReturnType<typeof get>> | undefined;
    while (!first) {
      expect(child.exitCode, stderr).toBeNull();
      first = await get('/healthz').catch((e: Error & { cause?: { code?: string } }) => {
        if (e.cause?.code !== 'ECONNREFUSED') throw e;
        return undefined;
      });
      if (!first) await new Promise((r) => setTimeout(r, 20));
    }
    const listeningMs = performance.now() - started;
    expect(first.status).toBe(200);
    expect(listeningMs, `port opened after ${Math.round(listeningMs)} ms`).toBeLessThan(2000);
    // Once open, every request on the kept-alive connection is answered. While
    // PGlite creates its cluster the event loop is busy for seconds; with
    // Node's default 5 s keep-alive the close timer fires in the same turn as
    // the next request and resets it (ECONNRESET). The service keeps idle
    // connections longer than a proxy's 60 s and says so to its clients.
    const keepAlive = Number(/timeout=(\d+)/.exec(first.headers.get('keep-alive') ?? '')?.[1]);
    expect(keepAlive, `Keep-Alive: ${first.headers.get('keep-alive')}`).toBeGreaterThan(60);

    // Before the database is ready: not ready, and a request is told to come back.
    const ready = await get('/readyz');
    const early = await get('/api/v1/collections');
    if (ready.status === 503) {
      expect(ready.body).toEqual({ status: 'starting' });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('2');
      expect(early.body.detail).toMatch(/starting/);
    }
    // Then the service itself answers.
    let r = ready;
    while (r.status !== 200) {
      expect(child.exitCode, stderr).toBeNull();
      await new Promise((res) => setTimeout(res, 100));
      r = await get('/readyz');
    }
    expect(r.body.status).toBe('ready');
    const listed = await fetch(`${url}/api/v1/collections`, { headers: { 'x-bridge-dev-user': 'alien' } });
    expect(listed.status).toBe(200);
  }, 60_000);
});
