import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RELEASES, derivedRelease } from '../../src/domain/releases.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '../../src/db/database.js';
import { createCollection } from '../../src/db/repositories/collections.js';
import { createBatch } from '../../src/db/repositories/batches.js';
import { insertImages } from '../../src/db/repositories/images.js';
import { applyPolicy } from '../../src/domain/review.js';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { DEFAULT_POLICY_FILE } from '../../src/app/service.js';
import { createLogger } from '../../src/app/logger.js';
import { runBridge } from '../support/cli.js';
import { createRepositories } from '../../src/db/repositories/index.js';

function bridge(args: string[], env: Record<string, string> = {}) {
  return runBridge(args, { ...process.env, BRIDGE_MODE: 'dev', ...env } as Record<string, string>);
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'policy-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('bridge policy check', () => {
  it('accepts the shipped policy (exit 0) and names file, rule and place of a mistake (exit 1)', async () => {
    const ok = await bridge(['policy', 'check']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/policies\/rubin-default\.yaml: ok, rubin-default@/);
    const bad = join(tmp, 'bad.yaml');
    await writeFile(bad, 'name: bad\nversion: "1"\nevaluation: all\nrules:\n  - id: typo\n    description: d\n    condition: [gtee, [lookup, dataset.age_hours, 0], [const, 80]]\n    effects: [{ action: require_review }]\n');
    const r = await bridge(['policy', 'check', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml: rule "typo": condition: unknown operator "gtee" \(did you mean "gte"\?\) \(line 7\)/);
  });
});

describe('start-up', () => {
  it('a service with a broken policy file refuses to start, naming the file and the rule', async () => {
    const bad = join(tmp, 'broken.yaml');
    await writeFile(bad, 'name: broken\nversion: "1"\nevaluation: all\nrules:\n  - id: no-effects\n    description: d\n    condition: [lookup, dataset.nope]\n    effects: []\n');
    const { buildServices } = await import('../../src/app/service.js');
    const { loadConfig } = await import('../../src/config/config.js');
    const err = await buildServices(loadConfig({ BRIDGE_MODE: 'dev', POLICY_FILE: bad, DATA_DIR: join(tmp, 'never'), REDIS_URL: 'redis://127.0.0.1:1' }), { log: createLogger('silent') }).then(
      () => new Error('started'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/broken\.yaml: rule "no-effects"/);
    expect(err.message).toMatch(/needs at least one effect/);
  });
});

describe('bridge policy explain', () => {
  it("replays an image's verdict from the facts recorded with it, rule by rule", async () => {
    const dataDir = join(tmp, 'data');
    const db = await openDatabase({ dataDir: join(dataDir, 'pglite') });
    let rejected: string;
    try {
      await migrateToLatest(db);
      const c = await createCollection(db, { owner: 'alien', repository: 'dp1', name: 'u/alien/x', sourceKind: 'prefix', sourceRoot: '/x', datasetType: 'zooniverse_cutout', rgb: ['i', 'r', 'g'], colour: { preset: 'auto' }, zooniverseProjectId: null, subjectSetNaming: null, pollIntervalSeconds: 3600, release: derivedRelease(DEFAULT_RELEASES, 'dr1'), ownerDataRights: [] }, 'alien');
      const b = await createBatch(db, c.id);
      const [img] = await insertImages(db, [{ collectionId: c.id, groupKey: '{}', stampIndex: 0, state: 'quarantined', ra: 1, dec: 2, wcsQuality: 'full', width: 10, height: 10, bytes: 1, sha256: 'a'.repeat(64), quarantineKey: 'images/x/a.png', bands: ['r'], colour: {}, error: null, batchId: b.id }], 't');
      await applyPolicy({ repos: createRepositories(db), policy: await loadPolicyFile(DEFAULT_POLICY_FILE), clock: { now: () => new Date() }, log: createLogger('silent') }, c.id);
      rejected = img.id;
    } finally {
      await db.destroy();
    }
    const r = await bridge(['policy', 'explain', rejected], { DATA_DIR: dataDir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verdict rejected by rubin-default@/);
    expect(r.stdout).toMatch(/\[matched\] proprietary-needs-approval/);
    expect(r.stdout).toMatch(/\[matched\] owner-holds-data-rights/);
    expect(r.stdout).toMatch(/\[no match\] prompt-embargo/);
    expect(r.stdout).toMatch(/dataset\.release \("dr1"\)/);

    const missing = await bridge(['policy', 'explain', '00000000-0000-4000-8000-000000000000'], { DATA_DIR: dataDir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no image/);
  });
});
