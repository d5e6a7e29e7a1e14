import { parentPort, workerData } from 'node:worker_threads';
import { convertStamp, type ChannelSource } from './convert.js';
import { openBand, type WorkerInit, type WorkerReply } from './convert-bands.js';

/** Worker thread: opens the bands once, then converts the stamp indices it is sent and sends back the PNGs. */
const init = workerData as WorkerInit;
const port = parentPort!;

/**
 * A PNG may be a view into a larger buffer (Node's pool for small Buffers);
 * transferring that would take the whole pool from this thread, so such a
 * view is copied into a buffer of its own first.
 */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

let channels: ChannelSource[];
try {
  channels = [];
  for (const ch of init.channels) channels.push({ band: ch.band, cutouts: await openBand(ch) });
} catch (e) {
  port.postMessage({ fatal: (e as Error).message } satisfies WorkerReply);
  throw e;
}

port.on('message', async (index: number | 'close') => {
  if (index === 'close') {
    await Promise.all(channels.map((c) => c.cutouts.close()));
    port.close();
    return;
  }
  let reply: WorkerReply;
  try {
    const s = await convertStamp(channels, index, init.opts);
    const stamp = { index, record: s.record, png: own(s.png), ...(s.frames ? { frames: s.frames.map((f) => ({ band: f.band, png: own(f.png) })) } : {}) };
    // Moved, not copied: the PNGs are this thread's to give away.
    port.postMessage({ index, stamp } satisfies WorkerReply, [stamp.png.buffer as ArrayBuffer, ...(stamp.frames ?? []).map((f) => f.png.buffer as ArrayBuffer)]);
    return;
  } catch (e) {
    reply = { index, error: (e as Error).message };
  }
  port.postMessage(reply);
});
