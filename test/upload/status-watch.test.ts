import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';

import { uploadBatch } from '../../src/domain/upload.js';
import { releaseProgress } from '../../src/domain/release.js';
import { watchRelease } from '../../src/cli/status-command.js';
import { DB_KINDS } from '../support/databases.js';
import { panoptesClient, quietLog, seedUploadBatch, startDelayingProxy } from '../support/upload-fixtures.js';
import { uploadSetting } from '../support/upload-setting.js';

/** Collects what a watcher writes. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

for (const kind of DB_KINDS) {
  describe(`bridge status --watch (${kind})`, () => {
    const env = uploadSetting(kind);

    async function uploadWhileWatching(opts: { tty: boolean; json: boolean }) {
      // 20 ms per request and one create at a time: the upload takes long enough to be watched.
      const proxy = await startDelayingProxy(env.server.url, 20);
      try {
        const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 120 });
        const collection = await env.t.db.selectFrom('collections').select(['id', 'name', 'zooniverse_project_id']).where('id', '=', b.collectionId).executeTakeFirstOrThrow();
        const out = new Capture();
        const watching = watchRelease({ db: env.t.db, collection, uploading: true, out, tty: opts.tty, json: opts.json, intervalMs: 40 });
        const report = await uploadBatch({ repos: env.repos, lock: env.lock, panoptes: panoptesClient(proxy.url), store: env.pub.store, log: quietLog, concurrency: 1, tuning: { flushEvery: 10, flushAfterMs: 30, linkChunk: 20 } }, b.batchId);
        const last = await watching;
        return { b, out: out.text, last, report };
      } finally {
        await proxy.close();
      }
    }

    it('prints a line whenever the figures change and stops by itself once the batch is uploaded', { timeout: 60_000 }, async () => {
      const { out, last, report } = await uploadWhileWatching({ tty: false, json: true });
      expect(report.state).toBe('uploaded');
      const readings = out.trim().split('\n').map((l) => JSON.parse(l) as { linked: number; total: number; settled: boolean; batches: { state: string }[] });
      // It watched the upload happen, not just its end.
      const linked = readings.map((r) => r.linked);
      expect(new Set(linked).size).toBeGreaterThan(2);
      expect(linked).toEqual([...linked].sort((a, b) => a - b));
      expect(readings.some((r) => r.batches[0].state === 'uploading')).toBe(true);
      // No line repeats the one before it.
      for (let i = 1; i < readings.length; i++) expect(JSON.stringify(readings[i])).not.toBe(JSON.stringify(readings[i - 1]));
      expect(readings.at(-1)).toMatchObject({ linked: 120, total: 120, settled: true });
      expect(last).toMatchObject({ linked: 120, total: 120, published: 120, approved: 0, settled: true });
    });

    it('redraws its progress bars in place on a terminal', { timeout: 60_000 }, async () => {
      const { out } = await uploadWhileWatching({ tty: true, json: false });
      // Each drawing after the first moves the cursor back over the previous one and clears it.
      const redraws = out.match(/\x1b\[\d+F\x1b\[J/g) ?? [];
      expect(redraws.length).toBeGreaterThan(2);
      const final = out.split(/\x1b\[\d+F\x1b\[J/).at(-1)!;
      expect(final).toMatch(/settled/);
      expect(final).toMatch(/batch 1 \(api\) \[#{24}\] 120\/120 linked, 120 created: uploaded/);
      const partial = out.match(/\[(#*)\.+\] (\d+)\/120 linked/g) ?? [];
      expect(partial.length).toBeGreaterThan(0);
    });

    it('counts a manifested batch as settled only when nobody is going to upload it', async () => {
      const b = await seedUploadBatch(env.t.db, env.pub.store, { n: 3 });
      expect((await releaseProgress(env.repos, b.collectionId, { uploading: true })).settled).toBe(false);
      expect((await releaseProgress(env.repos, b.collectionId, { uploading: false })).settled).toBe(true);
    });
  });
}
