import { syntheticStamp } from './src/imaging/synthetic.js';
import { asinhPositive } from './src/imaging/colour/lupton.js';
const stamps = Array.from({ length: 16 }, (_, k) => syntheticStamp(256, 256, 1000 + k));
const PIXMAX = 255;
const fround = Math.fround;
let sat = 0, nan = 0;
function make(variant: number) {
  return function rgb(rd: Float32Array, gd: Float32Array, bd: Float32Array, data: Uint8Array) {
  const mr = 0, mg = 0, mb = 0;
  const soften = fround(8 / 50); const slope = fround(25.5 / Math.asinh(0.8));
  const n = rd.length;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    let xr = fround(rd[i] - mr);
    let xg = fround(gd[i] - mg);
    let xb = fround(bd[i] - mb);
    if (variant !== 1 && xr - xr + (xg - xg) + (xb - xb) !== 0) {
      if (xr - xr !== 0) xr = 0;
      if (xg - xg !== 0) xg = 0;
      if (xb - xb !== 0) xb = 0;
    }
    const I = fround(fround(fround(xr + xg) + xb) / 3);
    const fac = I > 0 ? fround(fround(fround(asinhPositive(fround(I * soften))) * slope) / I) : 0;
    let cr = fround(xr * fac);
    let cg = fround(xg * fac);
    let cb = fround(xb * fac);
    if (variant !== 2 && (cr >= PIXMAX || cg >= PIXMAX || cb >= PIXMAX)) {
      const top = Math.max(cr, cg, cb);
      cr = fround(fround(cr * PIXMAX) / top);
      cg = fround(fround(cg * PIXMAX) / top);
      cb = fround(fround(cb * PIXMAX) / top);
    }
    const tr = cr | 0;
    const tg = cg | 0;
    const tb = cb | 0;
    if (variant === 3) { sat += tr + tg + tb; continue; }
    data[o] = tr & ~(tr >> 31);
    data[o + 1] = tg & ~(tg >> 31);
    data[o + 2] = tb & ~(tb >> 31);
  }
  };
}
// count saturated
for (const s of stamps) { const [b,g,r]=s.map(p=>p.data as Float32Array); /* rough */ }
const out = new Uint8Array(3 * 65536);
for (const v of [0, 1, 2, 3, 0]) {
  const f = make(v);
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) { const s = stamps[i % 16]; f(s[2].data as Float32Array, s[1].data as Float32Array, s[0].data as Float32Array, out); }
    if (round === 2) console.log('variant', v, 'ms/stamp', (Number(process.hrtime.bigint() - t0) / 1e6 / 200).toFixed(3));
  }
}
