import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridgeAppOnZooniverse, type BridgeApp } from '../support/bridge-app.js';
import type { PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';
import { startDevApi, type DevApi } from '../support/dev-api.js';
import { writeDemoArtifacts } from '../../src/demo/demo-data.js';
import { convertGroup, pollCollection, retrieveArtifact } from '../../src/domain/pipeline.js';
import { openDatabase, migrateToLatest } from '../../src/db/database.js';
import { seedUploadBatch, startPublicStore } from '../support/upload-fixtures.js';
import { runBridge } from '../support/cli.js';

/**
 * Every stuck state can be taken back up by a person: a failed upload batch
 * from the API (it then uploads, each subject once) and the command line, a
 * failed artifact once its file is fixed. Each retry is audited; a new
 * upload mode applies to batches that sent nothing yet.
 */
describe('a failed upload batch, retried from the API', () => {
  let app: BridgeApp & { zoo: PanoptesServerDouble };
  let zoo: PanoptesServerDouble;
  beforeAll(async () => {
    app = await startBridgeAppOnZooniverse({ owners: ['alien'], stamps: 3, settings: { uploadMode: 'api' } });
    zoo = app.zoo;
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  const as = (user: string, method: string, path: string, body?: unknown) => app.call(user, method, path, body);

  it('shows why it failed, takes a new mode while nothing was sent, and ends uploaded with each subject once', async () => {
    const cid = app.collections.alien;
    // Zooniverse answers the subject set's creation with something the bridge cannot use: the batch fails for good.
    zoo.faults.push({ route: 'createSubjectSet', kind: 'replace-body', body: { subject_sets: [{ id: '999' }] } });
    const ids = (await app.s.db.selectFrom('images').select('id').where('collection_id', '=', cid).execute()).map((i) => i.id);
    expect((await as('rev', 'POST', '/review/decisions', { imageIds: ids, action: 'approve' })).status).toBe(200);
    const failures = async () => (await as('alien', 'GET', `/collections/${cid}/failures`)).body as { batches: { id: string; state: string; mode: string; error: string }[]; artifacts: unknown[] };
    const failed = await waitFor(failures, (f) => f.batches.length === 1, 60_000);
    expect(failed.batches[0]).toMatchObject({ state: 'failed', mode: 'api' });
    expect(failed.batches[0].error).toMatch(/cannot read/);
    expect(zoo.allSubjects()).toHaveLength(0);

    // A new upload mode applies to the failed batch (it sent nothing), and back.
    expect((await as('alien', 'PATCH', `/collections/${cid}`, { uploadMode: 'import' })).status).toBe(200);
    expect((await failures()).batches[0].mode).toBe('import');
    expect((await as('alien', 'PATCH', `/collections/${cid}`, { uploadMode: 'api' })).status).toBe(200);

    // Nobody else may retry it; the owner may.
    const batchId = failed.batches[0].id;
    expect((await as('other', 'POST', `/collections/${cid}/batches/${batchId}/retry`)).status).toBe(403);
    const retried = await as('alien', 'POST', `/collections/${cid}/batches/${batchId}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ uploadBatchId: batchId, from: 'failed', mode: 'api' });
    const uploads = async () => (await as('alien', 'GET', `/collections/${cid}/uploads`)).body as { items: { state: string }[] };
    await waitFor(uploads, (u) => u.items[0]?.state === 'uploaded', 60_000);
    expect(zoo.allSubjects()).toHaveLength(3);
    expect(zoo.duplicateExternalIds()).toEqual([]);
    // Retrying what is not stopped is a conflict that says why.
    const again = await as('alien', 'POST', `/collections/${cid}/batches/${batchId}/retry`);
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/is uploaded: only failed, blocked or waiting batches can be retried/);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'detail']).where('action', '=', 'retry_upload_batch').where('entity_id', '=', batchId).execute();
    expect(audit).toEqual([{ actor: 'alien', detail: expect.objectContaining({ from: 'failed', mode: 'api' }) }]);
  }, 120_000);
});

describe('a failed artifact, retried once its file is fixed', () => {
  let d: DevApi;
  beforeAll(async () => {
    d = await startDevApi();
  }, 60_000);
  afterAll(async () => {
    await d?.close();
  });

  it('goes back to discovered with its retrieval queued, then converts', async () => {
    const run = 'u/alien/fixable';
    await writeDemoArtifacts(join(d.dir, 'artifacts'), { owner: 'alien', run, datasetType: 'zooniverse_cutout', tracts: [9813], patches: [42], stampsPerFile: 2, size: 32 });
    const dir = join(d.dir, 'artifacts', run, 'zooniverse_cutout', '9813', '42', 'r');
    const [name] = await readdir(dir);
    const good = await readFile(join(dir, name));
    // Not FITS at all (a file cut short would convert in part, its missing stamps failed instead).
    await writeFile(join(dir, name), 'SIMPLE? no: a text file saved under a FITS name\n'.repeat(80));
    const reg = await d.call('POST', '/api/v1/collections', 'alien', { repository: 'dp02', collection: run, sourceKind: 'prefix', sourceRoot: '.', bands: ['g', 'r', 'i'] });
    const id = reg.body.id as string;
    const { newArtifactIds } = await pollCollection(d.s.pipeline, id);
    let group: string | undefined;
    for (const a of newArtifactIds) group = (await retrieveArtifact(d.s.pipeline, a)).readyGroup?.groupKey ?? group;
    if (group) await convertGroup(d.s.pipeline, id, group).catch(() => {});
    const f = await d.call('GET', `/api/v1/collections/${id}/failures`, 'alien');
    expect(f.body.artifacts.length).toBeGreaterThanOrEqual(1);
    const bad = f.body.artifacts.find((a: { band: string }) => a.band === 'r');
    expect(bad).toMatchObject({ datasetType: 'zooniverse_cutout', dataId: expect.objectContaining({ tract: 9813, patch: 42 }) });
    expect(bad.error).toBeTruthy();

    await writeFile(join(dir, name), good);
    const r = await d.call('POST', `/api/v1/collections/${id}/artifacts/retry`, 'alien');
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { artifactId: string }) => i.artifactId)).toContain(bad.id);
    const queued = (await d.s.queues.queues.get('retrieve')!.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.data.artifactId);
    expect(queued).toContain(bad.id);
    // What the queued jobs do, run here: retrieve again, then convert the group.
    let ready: string | undefined;
    for (const a of r.body.items as { artifactId: string }[]) ready = (await retrieveArtifact(d.s.pipeline, a.artifactId)).readyGroup?.groupKey ?? ready;
    await convertGroup(d.s.pipeline, id, ready!);
    expect((await d.call('GET', `/api/v1/collections/${id}/failures`, 'alien')).body.artifacts).toEqual([]);
    expect(await d.s.db.selectFrom('images').select('id').where('collection_id', '=', id).where('state', '=', 'quarantined').execute()).toHaveLength(2);
  }, 60_000);
});

describe('bridge retry (command line)', () => {
  let dir: string;
  let name: string;
  let batchId: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'retry-cli-'));
    const pub = await startPublicStore();
    const db = await openDatabase({ dataDir: join(dir, 'pglite') });
    try {
      await migrateToLatest(db);
      name = `u/pi/retry-cli-${Date.now()}`;
      const b = await seedUploadBatch(db, pub.store, { n: 4, collectionName: name });
      batchId = b.batchId;
      await db.updateTable('upload_batches').set({ state: 'failed', error: 'Panoptes refused: the project is not live' }).where('id', '=', b.batchId).execute();
    } finally {
      await db.destroy();
      await pub.close();
    }
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const bridge = (args: string[]) => {
    const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: dir, LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    return runBridge(['retry', ...args], env);
  };

  it('lists what stopped with the reasons, then retries the batch (recorded for the sweep without Redis)', async () => {
    const list = await bridge(['--collection', name]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/0 failed artifact\(s\), 1 upload batch\(es\) stopped/);
    expect(list.stdout).toMatch(/batch #1 .* failed \(api\): Panoptes refused: the project is not live/);
    const done = await bridge(['--collection', name, '--batches']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`batch #1 \\(${batchId}\\) failed -> manifested, mode api \\(no REDIS_URL: recorded`));
    const db = await openDatabase({ dataDir: join(dir, 'pglite') });
    try {
      expect(await db.selectFrom('upload_batches').select(['state', 'error']).where('id', '=', batchId).executeTakeFirstOrThrow()).toEqual({ state: 'manifested', error: null });
      const audit = await db.selectFrom('audit_log').select('actor').where('action', '=', 'retry_upload_batch').execute();
      expect(audit.map((a) => a.actor)).toEqual([expect.stringMatching(/^cli:/)]);
    } finally {
      await db.destroy();
    }
    const none = await bridge(['--collection', name, '--batches']);
    expect(none.stdout).toMatch(/no failed, blocked or waiting batches/);
    const usage = await bridge(['--collection', name, '--batch', 'nope']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--batch must be an id/);
  }, 60_000);
});
