import type { BandSource, ConvertedStamp } from './convert-bands.js';
import type { ConvertOptions } from './convert.js';

/**
 * What a conversion needs from a pool of conversion threads, with no
 * worker_threads types in it: convertBands and the domain (PipelineDeps)
 * depend on this, convert-pool.ts implements it. One pool serves every band
 * set of a process, so several conversions at once share its threads.
 */
export interface StampPool {
  /** Threads converting at once: how many stamps a conversion keeps in flight is sized from it. */
  readonly threads: number;
  /** A band set whose stamps the threads will convert; each thread opens it once, at its first stamp of it. */
  bandSet(channels: BandSource[], opts: ConvertOptions): PooledBandSet;
}

export interface PooledBandSet {
  /**
   * Queues one stamp. Waits while the pool's queue is full (back-pressure,
   * shared by every conversion on the pool), then gives the stamp's outcome
   * to come. Wrapped in an object so that waiting for room and waiting for
   * the stamp stay two separate waits.
   */
  submit(index: number): Promise<{ outcome: Promise<StampOutcome> }>;
  /**
   * Done with the set: stamps of it not yet handed to a thread are dropped
   * (their outcome is an error), and every thread closes its copy after the
   * stamps it already has.
   */
  release(): void;
}

/**
 * A stamp's end on a thread: converted, or an error naming it. `fatal` means
 * the pool could not work on the set at all (threads that cannot start, a
 * band a thread cannot open): the conversion as a whole fails with it, as it
 * would in one thread.
 */
export type StampOutcome = { stamp: ConvertedStamp } | { error: string; fatal?: true };
