import { Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import type { BandSource, ConvertedStamp } from './convert-bands.js';
import type { ConvertOptions } from './convert.js';
import type { PooledBandSet, StampOutcome, StampPool } from './convert-pool-port.js';
import { shared } from './shared-bytes.js';

/**
 * A persistent pool of conversion threads: started once per process (each
 * thread when first needed) and reused for every band set and stamp, so no
 * conversion pays for starting threads and the threads keep their warm code
 * and reusable buffers. Several conversions at once share it: their stamps
 * wait in one bounded queue, in the order they were submitted.
 *
 * A task carries only what a thread needs: the set's id, the stamp index,
 * and the first time a thread meets a set, its bands (paths, or bytes in
 * shared memory that every thread reads without a copy) and options. PNGs
 * come back as transferred buffers. A thread that dies (out of memory, a
 * crash in native code) is replaced; the stamp it was converting fails with
 * an error naming it, the stamps queued behind it go to another thread.
 */

export interface ConvertPoolOptions {
  /** Conversion threads. Default: all cores. */
  threads?: number;
  /** Stamps waiting for a thread before submit() waits for room. Default: 4 per thread. */
  queueLimit?: number;
  /**
   * Stamps handed to a thread at once. Two let a thread start its next
   * stamp without waiting for this thread to answer; one is for large stamps
   * (less memory in flight). Default 2.
   */
  perThread?: number;
  /** V8 heap limits of each thread: a stamp that needs more kills its thread only, and only that stamp fails. The young generation defaults to YOUNG_GENERATION_MB. */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /**
   * The module each thread runs: convert-worker by default. Another must
   * speak its protocol; the tests wrap it in one that dies on a chosen stamp.
   */
  threadModule?: URL;
}

/** Main thread -> conversion thread. */
export type ThreadRequest =
  | { kind: 'stamp'; set: number; index: number; open?: { channels: BandSource[]; opts: ConvertOptions } }
  | { kind: 'release'; set: number };

/** Conversion thread -> main thread. */
export type ThreadReply =
  | { kind: 'ready' }
  | { kind: 'stamp'; set: number; index: number; stamp: ConvertedStamp }
  | { kind: 'error'; set: number; index: number; error: string; fatal?: true };

interface Task {
  set: SetEntry;
  index: number;
  resolve: (o: StampOutcome) => void;
}

interface SetEntry {
  id: number;
  channels: BandSource[];
  opts: ConvertOptions;
  /** For messages: the bands' file names. */
  label: string;
  released: boolean;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Handed to the thread, oldest first; the thread converts them in this order, one at a time. */
  inFlight: Task[];
  /** Sets this thread has been sent the bands of. */
  known: Set<number>;
  /** Why it stopped, when an 'error' event came before its exit. */
  failure?: string;
}

/**
 * Young generation of each conversion thread, in MB. V8's default (tens of
 * MB per isolate) let each thread sit on ~100 MB while converting 1024 x
 * 1024 stamps, whose large arrays live outside the heap anyway: at 6 MB a
 * 2 GB set converts on two threads in ~180 MB instead of ~300 MB, and
 * 256 x 256 stamps convert slightly faster (bench:convert, cores rows:
 * 5.2-5.4 against 5.6-5.8 ms CPU a stamp), the young objects staying in cache.
 */
const YOUNG_GENERATION_MB = 6;

export class ConvertPool implements StampPool {
  readonly threads: number;
  private readonly queueLimit: number;
  private readonly perThread: number;
  private readonly slots: Slot[] = [];
  private readonly waiting: Task[] = [];
  /** submit() calls waiting for room in the queue, in order. */
  private readonly roomWaiters: (() => void)[] = [];
  private nextSet = 1;
  private closing = false;
  private drained?: () => void;
  /** Set when threads die before they are ready; new threads are not tried again until the next submit. */
  private startFailure?: string;

  constructor(private readonly o: ConvertPoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(o.threads ?? availableParallelism()));
    this.queueLimit = Math.max(1, Math.floor(o.queueLimit ?? 4 * this.threads));
    this.perThread = Math.max(1, Math.floor(o.perThread ?? 2));
  }

  bandSet(channels: BandSource[], opts: ConvertOptions): PooledBandSet {
    const set: SetEntry = {
      id: this.nextSet++,
      channels: channels.map((ch) => ('bytes' in ch ? { ...ch, bytes: shared(ch.bytes) } : ch)),
      opts,
      label: channels.map((ch) => ('path' in ch ? ch.path : ch.name)).join(', '),
      released: false,
    };
    return {
      submit: (index) => this.submit(set, index),
      release: () => this.release(set),
    };
  }

  /** Ids of the running threads (for diagnostics and tests: the same ids from one conversion to the next). */
  threadIds(): number[] {
    return this.slots.map((s) => s.worker.threadId);
  }

  /**
   * Each running thread's event-loop utilization (by thread id), since the
   * snapshot given: near 1 while stamps wait means the pool keeps its threads
   * fed, and any shortfall against the cores is the machine's, not the pool's.
   */
  utilization(since?: Map<number, EventLoopUtilization>): Map<number, EventLoopUtilization> {
    return new Map(this.slots.map((s) => [s.worker.threadId, s.worker.performance.eventLoopUtilization(since?.get(s.worker.threadId))]));
  }

  /** Stamps waiting for a thread, and on threads. */
  stats(): { waiting: number; running: number; threads: number } {
    return { waiting: this.waiting.length, running: this.slots.reduce((n, s) => n + s.inFlight.length, 0), threads: this.slots.length };
  }

  /** Takes no more stamps, converts the ones already submitted, then stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    // Submitters already waiting for room get it: they asked before the close.
    while (this.busy()) await new Promise<void>((r) => (this.drained = r));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private busy(): boolean {
    return this.waiting.length > 0 || this.roomWaiters.length > 0 || this.slots.some((s) => s.inFlight.length > 0);
  }

  private async submit(set: SetEntry, index: number): Promise<{ outcome: Promise<StampOutcome> }> {
    if (this.closing) throw new Error('the conversion pool is closed');
    if (set.released) throw new Error('this band set was released');
    this.startFailure = undefined;
    while (this.waiting.length >= this.queueLimit) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (set.released) return { outcome: Promise.resolve(dropped(set, index)) };
    const outcome = new Promise<StampOutcome>((resolve) => this.waiting.push({ set, index, resolve }));
    this.pump();
    return { outcome };
  }

  private release(set: SetEntry): void {
    if (set.released) return;
    set.released = true;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i].set !== set) continue;
      const [t] = this.waiting.splice(i, 1);
      t.resolve(dropped(set, t.index));
    }
    for (const s of this.slots) {
      if (s.known.delete(set.id)) s.worker.postMessage({ kind: 'release', set: set.id } satisfies ThreadRequest);
    }
    this.pump();
  }

  /** Hands waiting stamps to threads with room, starting threads up to the limit when all are busy. */
  private pump(): void {
    while (this.waiting.length) {
      const free = this.slots.filter((s) => s.ready && s.inFlight.length < this.perThread).sort((a, b) => a.inFlight.length - b.inFlight.length)[0];
      if (!free) {
        // Enough threads for what waits, up to the limit, started together (a start takes tens of ms, more under tsx).
        const starting = this.slots.filter((s) => !s.ready).length;
        const wanted = Math.min(this.threads - this.slots.length, Math.ceil(this.waiting.length / this.perThread) - starting);
        if (this.startFailure === undefined) for (let i = 0; i < wanted; i++) this.start();
        break;
      }
      this.dispatch(free, this.waiting.shift()!);
    }
    while (this.roomWaiters.length && this.waiting.length < this.queueLimit) this.roomWaiters.shift()!();
    if (this.drained && !this.busy()) {
      const d = this.drained;
      this.drained = undefined;
      d();
    }
  }

  private dispatch(slot: Slot, task: Task): void {
    const msg: ThreadRequest = { kind: 'stamp', set: task.set.id, index: task.index };
    if (!slot.known.has(task.set.id)) {
      msg.open = { channels: task.set.channels, opts: task.set.opts };
      slot.known.add(task.set.id);
    }
    slot.inFlight.push(task);
    // A pool with work keeps the process alive; an idle one does not.
    slot.worker.ref();
    slot.worker.postMessage(msg);
  }

  private start(): void {
    const worker = startThread(this.o.threadModule ?? defaultThreadModule(), { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, ...this.o.resourceLimits });
    const slot: Slot = { worker, ready: false, inFlight: [], known: new Set() };
    this.slots.push(slot);
    // Started because stamps wait: it keeps the process alive until it is ready and, after that, while it has stamps.
    worker.on('message', (m: ThreadReply) => this.onReply(slot, m));
    worker.on('error', (e) => (slot.failure ??= e.message));
    worker.on('exit', (code) => this.onExit(slot, code));
  }

  private onReply(slot: Slot, m: ThreadReply): void {
    if (m.kind === 'ready') {
      slot.ready = true;
      this.pump();
      if (!slot.inFlight.length) slot.worker.unref();
      return;
    }
    // The thread answers in the order it was sent, so this is the first; looked up all the same.
    const at = slot.inFlight.findIndex((t) => t.set.id === m.set && t.index === m.index);
    if (at < 0) return;
    const [task] = slot.inFlight.splice(at, 1);
    if (m.kind === 'stamp') task.resolve({ stamp: m.stamp });
    else task.resolve(m.fatal ? { error: m.error, fatal: true } : { error: m.error });
    if (!slot.inFlight.length) slot.worker.unref();
    this.pump();
  }

  private onExit(slot: Slot, code: number): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return; // terminated by close()
    this.slots.splice(at, 1);
    const why = slot.failure ?? `exit code ${code}`;
    if (!slot.ready) {
      // It never started: nothing it was given is to blame. With no other thread to turn to, the queue cannot run.
      if (!this.slots.length) {
        this.startFailure = why;
        for (const t of this.waiting.splice(0)) t.resolve({ error: `conversion threads cannot start: ${why}`, fatal: true });
      }
    } else {
      // The oldest stamp handed to it is the one it was converting: that one fails; the rest go back to the front of the queue.
      const [culprit, ...rest] = slot.inFlight;
      if (culprit) {
        culprit.resolve({ error: `stamp ${culprit.index} of ${culprit.set.label}: the conversion thread stopped while converting it (${why}); a new thread takes the other stamps` });
      }
      for (const t of rest.filter((t) => t.set.released)) t.resolve(dropped(t.set, t.index));
      this.waiting.unshift(...rest.filter((t) => !t.set.released));
      // Replaced at once, so the pool is back to the threads it had whatever comes next.
      if (!this.closing) this.start();
    }
    this.pump();
  }
}

function dropped(set: SetEntry, index: number): StampOutcome {
  return { error: `stamp ${index} of ${set.label}: not converted, its conversion was stopped` };
}

/** The thread's module: the compiled .js beside this file, or the .ts source under vitest/tsx. */
function defaultThreadModule(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './convert-worker.ts' : './convert-worker.js', import.meta.url);
}

/**
 * Starts one conversion thread. Compiled (dist/) code runs the .js module
 * directly; a .ts module (under vitest/tsx) is run by a thread that first
 * registers tsx's loader and then imports it.
 */
function startThread(module: URL, resourceLimits: ConvertPoolOptions['resourceLimits']): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { resourceLimits });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, resourceLimits });
}
