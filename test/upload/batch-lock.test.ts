import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { advisoryLock, databaseLock, inProcessLock } from '../../src/db/locks.js';
import { LockBusyError } from '../../src/domain/ports/lock.js';
import { BatchBusyError, withBatchLock } from '../../src/domain/upload.js';
import { DB_KINDS, freshDatabase, type TestDb } from '../support/databases.js';

/** Resolves once `release()` is called: keeps a lock held while the test looks. */
function holder() {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { release, done };
}

describe('the upload lock', () => {
  it('turns a second run in the same process away at once, and lets the next one in after', async () => {
    const lock = inProcessLock();
    const h = holder();
    const first = withBatchLock(lock, 'b1', () => h.done.then(() => 'first'));
    await expect(withBatchLock(lock, 'b1', async () => 'second')).rejects.toThrow(new BatchBusyError('upload batch b1 is already being processed'));
    // Another batch is not in the way.
    await expect(withBatchLock(lock, 'b2', async () => 'other')).resolves.toBe('other');
    h.release();
    await expect(first).resolves.toBe('first');
    await expect(withBatchLock(lock, 'b1', async () => 'again')).resolves.toBe('again');
  });

  it('lets go when the run throws', async () => {
    const lock = inProcessLock();
    await expect(withBatchLock(lock, 'b1', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(withBatchLock(lock, 'b1', async () => 'ok')).resolves.toBe('ok');
  });

  it('passes a busy error about another key through unchanged', async () => {
    const lock = inProcessLock();
    const inner = new LockBusyError('something else', true);
    await expect(withBatchLock(lock, 'b1', async () => Promise.reject(inner))).rejects.toBe(inner);
  });

  for (const kind of DB_KINDS) {
    describe(`on ${kind}`, () => {
      let t: TestDb;
      beforeAll(async () => {
        t = await freshDatabase(kind);
      });
      afterAll(async () => {
        await t?.close();
      });

      it('keeps one run per batch across processes (two locks stand for two workers)', async () => {
        const mine = databaseLock(t.db);
        const theirs = databaseLock(t.db);
        const h = holder();
        const first = withBatchLock(mine, 'b1', () => h.done.then(() => 'first'));
        await new Promise((r) => setTimeout(r, 50));
        if (kind === 'postgres') {
          await expect(withBatchLock(theirs, 'b1', async () => 'second')).rejects.toThrow(new BatchBusyError('upload batch b1 is being processed by another worker'));
        } else {
          // PGlite belongs to one process: exclusion is that process's own, so a second lock object does not see it.
          await expect(withBatchLock(theirs, 'b1', async () => 'second')).resolves.toBe('second');
        }
        await expect(withBatchLock(mine, 'b1', async () => 'second')).rejects.toThrow(new BatchBusyError('upload batch b1 is already being processed'));
        h.release();
        await expect(first).resolves.toBe('first');
        await expect(withBatchLock(theirs, 'b1', async () => 'after')).resolves.toBe('after');
      });

      if (kind === 'postgres') {
        it('releases the advisory lock when the run throws', async () => {
          const a = advisoryLock(t.db);
          const b = advisoryLock(t.db);
          await expect(a.withLock('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
          await expect(b.withLock('k', async () => 'ok')).resolves.toBe('ok');
        });
      }
    });
  }
});
