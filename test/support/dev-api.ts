import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { buildServices, type Services } from '../../src/app/service.js';
import { startApiRole } from '../../src/app/api-server.js';
import { createLogger } from '../../src/app/logger.js';
import { startLocalRedis, type LocalRedis } from '../../src/adapters/redis/redis-server.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { convertGroup, pollCollection, retrieveArtifact } from '../../src/domain/pipeline.js';
import { applyPolicy, type ReviewDeps } from '../../src/domain/review.js';

/**
 * The service's own API in dev mode (callers named by X-Bridge-Dev-User),
 * on a private Redis and embedded PGlite, with prefix sources under `dir`.
 * No worker runs: a test drives the pipeline step by step (see judged()).
 */
export interface DevApi {
  dir: string;
  s: Services;
  url: string;
  /** JSON in and out (a string body goes as CSV); `extra` adds headers such as X-Bridge-Dev-Roles. */
  call(method: string, path: string, user: string, body?: unknown, extra?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Stops everything; `keepDir` leaves the data directory for a command-line process to read. */
  close(keepDir?: boolean): Promise<void>;
}

export async function startDevApi(o: { releasesYaml?: string } = {}): Promise<DevApi> {
  const dir = await mkdtemp(join(tmpdir(), 'dev-api-'));
  const redis: LocalRedis = await startLocalRedis();
  const env: Record<string, string> = { BRIDGE_MODE: 'dev', DATA_DIR: join(dir, 'data'), ARTIFACT_ROOT: join(dir, 'artifacts'), REDIS_URL: redis.url, PUBLISH_DELAY_SECONDS: '0' };
  if (o.releasesYaml) {
    await writeFile(join(dir, 'releases.yaml'), o.releasesYaml);
    env.RELEASES_FILE = join(dir, 'releases.yaml');
  }
  const s = await buildServices(loadConfig(env), { log: createLogger('silent') });
  const api = await startApiRole(s, 0);
  return {
    dir,
    s,
    url: api.url,
    async call(method, path, user, body, extra = {}) {
      const csv = typeof body === 'string';
      const r = await fetch(api.url + path, { method, headers: { 'content-type': csv ? 'text/csv' : 'application/json', 'x-bridge-dev-user': user, ...extra }, body: body === undefined ? undefined : csv ? body : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async close(keepDir = false) {
      await api.close();
      await s.close();
      await redis.stop();
      if (!keepDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes demo cutouts for `run`, registers them from `repository` over the
 * API as alien (holding `rights`), and takes them through poll, retrieve,
 * convert and the policy. Returns the collection as the API answered.
 */
export async function judged(
  d: DevApi,
  repository: string,
  run: string,
  o: { rights?: string; stamps?: number; observedAt?: Date; panel?: boolean; review?: ReviewDeps } = {},
): Promise<{ id: string; body: Record<string, unknown> }> {
  await writeDemoArtifacts(join(d.dir, 'artifacts'), { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: o.stamps ?? 2, size: 32, ...(o.observedAt ? { observedAt: o.observedAt } : {}) });
  const reg = await d.call('POST', '/api/v1/collections', 'alien', { repository, collection: run, sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] }, { 'x-bridge-dev-data-rights': o.rights ?? '' });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  const id = reg.body.id as string;
  if (o.panel) await d.s.db.updateTable('collections').set({ panel_approval: 'approved' }).where('id', '=', id).execute();
  const { newArtifactIds } = await pollCollection(d.s.pipeline, id);
  let group: string | undefined;
  for (const a of newArtifactIds) group = (await retrieveArtifact(d.s.pipeline, a)).readyGroup?.groupKey ?? group;
  await convertGroup(d.s.pipeline, id, group!);
  await applyPolicy(o.review ?? d.s.review, id);
  return { id, body: reg.body };
}
