import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { readClassificationExportBatches, RunningReducer } from './src/results/index.js';
import { TASKS, WORKFLOW_ID } from './test/support/classifications.js';
const g = globalThis as unknown as { gc: () => void };
const reducer = new RunningReducer({ workflows: { [WORKFLOW_ID]: TASKS }, swap: { task: 'T0', yes: 'Yes', no: 'No', prior: 0.3, goldTruth: (s) => (Number(s) % 50 === 0 ? Number(s) % 100 === 0 : undefined) } });
const input = createReadStream(process.argv[2], { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }));
let n = 0; let maxHeap = 0;
for await (const batch of readClassificationExportBatches(input, { parse: { metadata: false, subjectData: false } })) {
  for (const c of batch) reducer.apply(c);
  n += batch.length;
  if (n % 100000 < batch.length) { const m = process.memoryUsage(); maxHeap = Math.max(maxHeap, m.heapUsed); console.log(n, 'heapUsed', (m.heapUsed/1e6).toFixed(0), 'heapTotal', (m.heapTotal/1e6).toFixed(0), 'rss', (m.rss/1e6).toFixed(0), 'ext', (m.external/1e6).toFixed(0), 'ab', (m.arrayBuffers/1e6).toFixed(0)); }
}
g.gc(); let m = process.memoryUsage(); console.log('after gc heapUsed', (m.heapUsed/1e6).toFixed(0), 'rss', (m.rss/1e6).toFixed(0));
for (const s of Object.values(reducer.state.subjects)) { for (const t of Object.values(s.tasks)) if (t.kind === 'drawing') t.sets = {} as never; }
g.gc(); m = process.memoryUsage(); console.log('without marks heapUsed', (m.heapUsed/1e6).toFixed(0));
for (const s of Object.values(reducer.state.subjects)) { delete s.kept; }
g.gc(); m = process.memoryUsage(); console.log('without kept heapUsed', (m.heapUsed/1e6).toFixed(0));
reducer.state.swapVolunteers = {} as never;
g.gc(); m = process.memoryUsage(); console.log('without swap heapUsed', (m.heapUsed/1e6).toFixed(0));
console.log('maxRSS', process.resourceUsage().maxRSS/1024);
