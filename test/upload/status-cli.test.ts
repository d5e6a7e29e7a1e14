import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '../../src/db/database.js';
import { runBridge, type CliRun } from '../support/cli.js';
import { seedUploadBatch, startPublicStore, type PublicStore } from '../support/upload-fixtures.js';


/** `bridge status` as an operator runs it: a process of its own on the service's database. */
describe('bridge status (command line)', () => {
  let dir: string;
  let pub: PublicStore;
  const name = 'u/alien/status-cli';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'status-cli-'));
    pub = await startPublicStore();
    const db = await openDatabase({ dataDir: join(dir, 'pglite') });
    await migrateToLatest(db);
    const b = await seedUploadBatch(db, pub.store, { n: 7, collectionName: name });
    await db.updateTable('upload_items').set({ state: 'linked', subject_id: '1' }).where('upload_batch_id', '=', b.batchId).where('external_id', 'in', b.externalIds.slice(0, 3)).execute();
    await db.destroy();
  }, 60_000);
  afterAll(async () => {
    await pub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function bridge(args: string[]): Promise<CliRun> {
    const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: dir, LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    delete env.ZOONIVERSE_CLIENT_ID;
    delete env.ZOONIVERSE_CLIENT_SECRET;
    return runBridge(['status', ...args], env);
  }

  it('reports the release of one collection as JSON', async () => {
    const out = await bridge(['--collection', name, '--json']);
    expect(out.code, out.stderr).toBe(0);
    const [c] = JSON.parse(out.stdout) as { collection: string; release: { published: number; linked: number; total: number; settled: boolean; batches: { state: string }[] } }[];
    expect(c.collection).toBe(name);
    expect(c.release).toMatchObject({ published: 7, linked: 3, total: 7, batches: [expect.objectContaining({ state: 'manifested' })] });
    // No Zooniverse credentials here: a manifested batch is not on its way anywhere.
    expect(c.release.settled).toBe(true);
  });

  it('--watch prints the reading and stops by itself when nothing is on its way', async () => {
    const out = await bridge(['--collection', name, '--watch', '--interval', '0.2']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim().split('\n')).toEqual([expect.stringMatching(/u\/alien\/status-cli approved 0, published 7, linked 3\/7; #1 manifested 3\/7; settled$/)]);
  });

  it('refuses --watch without a collection, and an unknown collection, with exit 2', async () => {
    const a = await bridge(['--watch']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--watch follows one collection: give --collection ID or NAME/);
    const b = await bridge(['--collection', 'u/nobody/none']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/no collection u\/nobody\/none/);
    const c = await bridge(['--collection', name, '--watch', '--interval', '0']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--interval must be between 0.1 and 3600 seconds/);
  });
});
