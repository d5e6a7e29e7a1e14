/**
 * One uploader process for the crash tests: runs uploadBatch on the batch
 * named in the environment and prints its report as one JSON line. The test
 * kills it with SIGKILL at random points and starts it again.
 *
 *   UPLOAD_DATABASE  postgres:// URL, or a PGlite data directory
 *   PANOPTES_URL     the Panoptes double
 *   STORE_ROOT, STORE_URL   the FsObjectStore holding the manifests
 *   UPLOAD_BATCH_ID
 */
import { FsObjectStore } from '../../src/adapters/storage/fs-store.js';
import { openDatabase } from '../../src/db/database.js';
import { databaseLock } from '../../src/db/locks.js';
import { createRepositories } from '../../src/db/repositories/index.js';
import { uploadBatch } from '../../src/domain/upload.js';
import { panoptesClient, quietLog } from './upload-fixtures.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const target = env('UPLOAD_DATABASE');
const db = await openDatabase(target.startsWith('postgres') ? { url: target } : { dataDir: target });
const store = new FsObjectStore({ root: env('STORE_ROOT'), publicBaseUrl: env('STORE_URL') });
try {
  const report = await uploadBatch(
    { repos: createRepositories(db), lock: databaseLock(db), panoptes: panoptesClient(env('PANOPTES_URL')), store, log: quietLog, tuning: { settleMs: 20, flushAfterMs: 100 } },
    env('UPLOAD_BATCH_ID'),
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await db.destroy();
  process.exit(0);
} catch (e) {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  await db.destroy().catch(() => undefined);
  process.exit(3);
}
