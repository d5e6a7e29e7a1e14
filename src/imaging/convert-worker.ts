import { parentPort, workerData } from 'node:worker_threads';
import { FitsCutouts } from './cutouts/fits-cutouts.js';
import { convertStamp, type ChannelSource } from './convert.js';
import { writeStamp, type WorkerInit, type WorkerReply } from './convert-set.js';

/** Worker thread: opens the band files once, then converts the stamp indices it is sent. */
const init = workerData as WorkerInit;
const port = parentPort!;
const reply = (m: WorkerReply) => port.postMessage(m);

let channels: ChannelSource[];
try {
  channels = [];
  for (const ch of init.channels) channels.push({ band: ch.band, cutouts: await FitsCutouts.open(ch.path) });
} catch (e) {
  reply({ fatal: (e as Error).message });
  throw e;
}

port.on('message', async (index: number | 'close') => {
  if (index === 'close') {
    await Promise.all(channels.map((c) => c.cutouts.close()));
    port.close();
    return;
  }
  try {
    reply({ index, line: await writeStamp(init.outDir, index, await convertStamp(channels, index, init.opts)) });
  } catch (e) {
    reply({ index, error: (e as Error).message });
  }
});
