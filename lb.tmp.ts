import { syntheticStamp } from './src/imaging/synthetic.js';
import { luptonRgb } from './src/imaging/colour/lupton.js';
const stamps = Array.from({ length: 16 }, (_, k) => syntheticStamp(256, 256, 1000 + k));
const out = new Uint8Array(3 * 256 * 256);
const p = { minimum: [0, 0, 0] as [number, number, number], stretch: 50, Q: 8 };
let pos = 0, tot = 0;
for (const s of stamps) { const d = s[2].data; for (let i = 0; i < d.length; i++) { tot++; if ((s[0].data[i] + s[1].data[i] + s[2].data[i]) > 0) pos++; } }
console.log('I>0 fraction', (pos / tot).toFixed(3), stamps[0][0].data.constructor.name);
for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) { const s = stamps[i % 16]; luptonRgb(s[2], s[1], s[0], p, out); }
  console.log('ms/stamp', (Number(process.hrtime.bigint() - t0) / 1e6 / 200).toFixed(3));
}
