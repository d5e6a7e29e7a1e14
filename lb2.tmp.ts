import { syntheticStamp } from './src/imaging/synthetic.js';
import { asinhPositive } from './src/imaging/colour/lupton.js';
const stamps = Array.from({ length: 16 }, (_, k) => syntheticStamp(256, 256, 1000 + k));
function loopA(rd: Float32Array, gd: Float32Array, bd: Float32Array, data: Uint8Array, f: (x: number) => number) {
  const fround = Math.fround; const soften = fround(8 / 50); const slope = fround(25.5 / Math.asinh(0.8));
  let acc = 0;
  for (let i = 0; i < rd.length; i++) {
    const xr = rd[i], xg = gd[i], xb = bd[i];
    const I = fround(fround(fround(xr + xg) + xb) / 3);
    const fac = I > 0 ? fround(fround(fround(f(fround(I * soften))) * slope) / I) : 0;
    acc += fac;
  }
  return acc;
}
function loopNoAsinh(rd: Float32Array, gd: Float32Array, bd: Float32Array) {
  const fround = Math.fround; const soften = fround(8 / 50); const slope = fround(25.5 / Math.asinh(0.8));
  let acc = 0;
  for (let i = 0; i < rd.length; i++) {
    const xr = rd[i], xg = gd[i], xb = bd[i];
    const I = fround(fround(fround(xr + xg) + xb) / 3);
    const fac = I > 0 ? fround(fround(fround(I * soften) * slope) / I) : 0;
    acc += fac;
  }
  return acc;
}
const out = new Uint8Array(3 * 65536);
for (const [name, fn] of [['asinhPositive', (s: Float32Array[]) => loopA(s[2], s[1], s[0], out, asinhPositive)], ['Math.asinh', (s: Float32Array[]) => loopA(s[2], s[1], s[0], out, Math.asinh)], ['none', (s: Float32Array[]) => loopNoAsinh(s[2], s[1], s[0])]] as const) {
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) { const s = stamps[i % 16]; fn(s.map((p) => p.data as Float32Array)); }
    console.log(name, 'ms/stamp', (Number(process.hrtime.bigint() - t0) / 1e6 / 200).toFixed(3));
  }
}
