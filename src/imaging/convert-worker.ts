import { parentPort } from 'node:worker_threads';
import { convertStamp, type ChannelSource, type ConvertOptions } from './convert.js';
import { openBand } from './convert-bands.js';
import type { ThreadReply, ThreadRequest } from './convert-pool.js';

type StampRequest = Extract<ThreadRequest, { kind: 'stamp' }>;

/**
 * A conversion thread of the pool (convert-pool.ts): it lives as long as
 * the pool, keeps each band set it is sent open until told to release it,
 * and converts the stamps it is sent one at a time, in order (the pool
 * counts on that order to know which stamp a dying thread was on, and the
 * converter reuses its buffers from one stamp to the next).
 */
const port = parentPort!;

interface OpenSet {
  channels: ChannelSource[];
  opts: ConvertOptions;
}

/** Band sets open in this thread, by the pool's set id. */
const sets = new Map<number, Promise<OpenSet>>();

/**
 * A PNG may be a view into a larger buffer (Node's pool for small Buffers);
 * transferring that would take the whole pool from this thread, so such a
 * view is copied into a buffer of its own first.
 */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

async function openSet(open: NonNullable<StampRequest['open']>): Promise<OpenSet> {
  const channels: ChannelSource[] = [];
  try {
    for (const ch of open.channels) channels.push({ band: ch.band, cutouts: await openBand(ch) });
  } catch (e) {
    await Promise.all(channels.map((o) => o.cutouts.close()));
    throw e;
  }
  return { channels, opts: open.opts };
}

async function handle(req: ThreadRequest): Promise<void> {
  if (req.kind === 'release') {
    const set = sets.get(req.set);
    sets.delete(req.set);
    const opened = await set?.catch(() => undefined);
    if (opened) await Promise.all(opened.channels.map((o) => o.cutouts.close()));
    return;
  }
  if (req.open && !sets.has(req.set)) sets.set(req.set, openSet(req.open));
  let set: OpenSet;
  try {
    const pending = sets.get(req.set);
    if (!pending) throw new Error(`band set ${req.set} was never sent to this thread`);
    set = await pending;
  } catch (e) {
    port.postMessage({ kind: 'error', set: req.set, index: req.index, error: (e as Error).message, fatal: true } satisfies ThreadReply);
    return;
  }
  try {
    const s = await convertStamp(set.channels, req.index, set.opts);
    const stamp = { index: req.index, record: s.record, png: own(s.png), ...(s.frames ? { frames: s.frames.map((f) => ({ band: f.band, png: own(f.png) })) } : {}) };
    // Moved, not copied: the PNGs are this thread's to give away.
    const transfer = [stamp.png.buffer as ArrayBuffer, ...(stamp.frames ?? []).map((f) => f.png.buffer as ArrayBuffer)];
    port.postMessage({ kind: 'stamp', set: req.set, index: req.index, stamp } satisfies ThreadReply, transfer);
  } catch (e) {
    port.postMessage({ kind: 'error', set: req.set, index: req.index, error: (e as Error).message } satisfies ThreadReply);
  }
}

// One request at a time, in the order sent. What handle() does not catch is
// a broken thread: thrown outside the chain, it stops the thread, and the
// pool fails the stamp and starts another.
let chain = Promise.resolve();
port.on('message', (req: ThreadRequest) => {
  chain = chain
    .then(() => handle(req))
    .catch((e: unknown) => {
      setImmediate(() => {
        throw e;
      });
    });
});
port.postMessage({ kind: 'ready' } satisfies ThreadReply);
