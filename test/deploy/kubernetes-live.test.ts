import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { listenEarly } from '../../src/app/early-listener.js';
import { BullMqJobQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { bullmqConnection } from '../../src/adapters/queue/redis-connection.js';
import { evictionPolicyWarning } from '../../src/adapters/redis/redis-check.js';
import { startDevApi, type DevApi } from '../support/dev-api.js';
import { build, KUSTOMIZE_ROOT } from './kustomize.js';
import { configMapData, containersOf, envOf, find, bridgeContainers } from './manifest-access.js';

/**
 * The example overlay's wiring tried on the real thing: the API's probes
 * against the bridge's own listener and application, and Redis started with
 * the StatefulSet's own arguments, reached with the REDIS_URL the
 * Deployments build, holding jobs where the KEDA triggers look.
 */

const overlay = build(join(KUSTOMIZE_ROOT, 'overlays', 'example'));
const api = containersOf(find(overlay, 'Deployment', 'zooniverse-bridge-api'))[0];
const readiness = api.readinessProbe!.httpGet!.path;
const liveness = api.livenessProbe!.httpGet!.path;

describe("the API's probes", () => {
  it('while the service starts: alive (not restarted), not ready (no traffic)', async () => {
    const early = await listenEarly('127.0.0.1', 0);
    try {
      expect((await fetch(early.url + liveness)).status).toBe(200);
      expect((await fetch(early.url + readiness)).status).toBe(503);
    } finally {
      await early.close();
    }
  });

  describe('once it runs', () => {
    let d: DevApi;
    beforeAll(async () => {
      d = await startDevApi();
    });
    afterAll(async () => {
      await d?.close();
    });

    it('alive and ready, asked as the kubelet asks: no credentials', async () => {
      const live = await fetch(d.url + liveness);
      expect(live.status).toBe(200);
      const ready = await fetch(d.url + readiness);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready' });
    });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe("Redis as the StatefulSet runs it, and the bridge's queues in it", () => {
  const password = randomBytes(16).toString('hex');
  let dir: string;
  let port: number;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-redis-'));
    port = await freePort();
    const redis = containersOf(find(overlay, 'StatefulSet', 'zooniverse-bridge-redis'))[0];
    // The container's arguments with its environment expanded, the data directory and the address made local.
    const args = redis.args!.map((a) => a.replace('$(REDIS_PASSWORD)', password));
    args[args.indexOf('--dir') + 1] = dir;
    const child = spawn(redis.command![0], [...args, '--port', String(port), '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Waited for before the data directory goes: redis-server saves on SIGTERM, and one that
    // cannot save (its directory removed under it) refuses to exit and outlives the test run.
    // Asked of the system rather than through 'exit', which this worker process was seen not to get.
    const gone = () => {
      try {
        process.kill(child.pid!, 0);
        return false;
      } catch {
        return true;
      }
    };
    const until = async (ms: number) => {
      for (const end = Date.now() + ms; !gone() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 25));
    };
    stop = async () => {
      if (gone()) return;
      child.kill('SIGTERM');
      await until(5_000);
      if (gone()) return;
      child.kill('SIGKILL');
      await until(5_000);
    };
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        }
      });
    });
  });
  afterAll(async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** REDIS_URL as the Deployments build it ($(REDIS_PASSWORD) expanded), pointed at the local server. */
  function bridgeRedisUrl(): string {
    const value = envOf(bridgeContainers(overlay)[0]).find((e) => e.name === 'REDIS_URL')!.value!;
    const url = new URL(value.replace('$(REDIS_PASSWORD)', password));
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return url.toString();
  }

  it('asks for the password, and the bridge finds noeviction with the URL it is given', async () => {
    // A client without the password is refused (raw RESP, so no client library hides the answer).
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
      sock.once('data', (b) => {
        resolve(b.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    });
    expect(answer).toMatch(/^-NOAUTH/);
    expect(await evictionPolicyWarning(bridgeRedisUrl())).toBeNull();
  });

  it('a job waiting in any queue is in the list its KEDA trigger measures', async () => {
    const queues = new BullMqJobQueue(bullmqConnection(bridgeRedisUrl()), configMapData(overlay).QUEUE_PREFIX);
    const triggers = (find(overlay, 'ScaledObject').spec as { triggers: { name: string; metadata: Record<string, string> }[] }).triggers;
    try {
      for (const [name, queue] of queues.queues) await queue.add(`probe-${name}`, {});
      for (const t of triggers) {
        // What KEDA's redis scaler does: LLEN of listName in databaseIndex, with the TriggerAuthentication's password.
        const keda = new Redis({ host: '127.0.0.1', port, password, db: Number(t.metadata.databaseIndex ?? 0), lazyConnect: true });
        try {
          await keda.connect();
          expect(await keda.llen(t.metadata.listName), t.metadata.listName).toBe(1);
        } finally {
          keda.disconnect();
        }
      }
      expect(triggers).toHaveLength(queues.queues.size);
    } finally {
      await queues.close();
    }
  });
});
