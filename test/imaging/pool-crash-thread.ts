import { parentPort } from 'node:worker_threads';
import type { ThreadRequest } from '../../src/imaging/convert-pool.js';

/**
 * A conversion thread (the real one, imported below) that runs out of
 * memory on stamp 1 of any band set whose first band is named "crash", as a
 * thread under a heap limit does when a stamp needs more than the limit.
 * The pool that runs it must set resourceLimits, so the hog stops at the
 * limit. This listener is registered first, so it sees each request before
 * the real thread does.
 */
const poisoned = new Set<number>();
parentPort!.on('message', (m: ThreadRequest) => {
  if (m.kind !== 'stamp') return;
  if (m.open?.channels[0]?.band === 'crash') poisoned.add(m.set);
  if (poisoned.has(m.set) && m.index === 1) {
    const hog: number[][] = [];
    for (;;) hog.push(new Array<number>(100_000).fill(Math.random()));
  }
});
await import('../../src/imaging/convert-worker.js');
