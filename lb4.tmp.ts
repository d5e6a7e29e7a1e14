import * as zlib from 'node:zlib';
import { syntheticStamp } from './src/imaging/synthetic.js';
import { luptonRgb } from './src/imaging/colour/lupton.js';
import { encodeRaster } from './src/imaging/png/png-encoder.js';
const stamps = Array.from({ length: 16 }, (_, k) => syntheticStamp(256, 256, 1000 + k));
const p = { minimum: [0, 0, 0] as [number, number, number], stretch: 50, Q: 8 };
const rasters = stamps.map((s) => luptonRgb(s[2], s[1], s[0], p));
const t = (name: string, f: (i: number) => void) => { for (let r = 0; r < 3; r++) { const t0 = process.hrtime.bigint(); for (let i = 0; i < 200; i++) f(i); if (r === 2) console.log(name, (Number(process.hrtime.bigint() - t0) / 1e6 / 200).toFixed(3), 'ms'); } };
const filtered = rasters.map((r) => { const o = new Uint8Array(257 * 768); for (let y = 0; y < 256; y++) { o[y * 769] = 1; } return o; });
t('encodeRaster', (i) => encodeRaster(rasters[i % 16], 6));
t('deflate RLE full', (i) => zlib.deflateSync(rasters[i % 16].data, { level: 6, strategy: zlib.constants.Z_RLE, memLevel: 9 }));
const small = new Uint8Array(16 * 769);
t('deflateRaw small RLE x1', () => zlib.deflateRawSync(small, { level: 1, strategy: zlib.constants.Z_RLE }));
t('deflateRaw 16 bytes x1', () => zlib.deflateRawSync(small.subarray(0, 16), { level: 1, strategy: zlib.constants.Z_RLE }));
t('deflateRaw 16 bytes L1 default', () => zlib.deflateRawSync(small.subarray(0, 16), { level: 1 }));
t('deflateRaw 16 bytes L6 memLevel9', () => zlib.deflateSync(small.subarray(0, 16), { level: 6, memLevel: 9 }));
// trial costs on real sample rows: unfiltered rows 16..256 step 16
const rowBytes = 768;
const sample = rasters.map((r) => { const o = new Uint8Array(16 * 769); for (let k = 0; k < 15; k++) { o.set(r.data.subarray((16 + 16 * k) * 768, (17 + 16 * k) * 768), k * 769 + 1); } return o; });
t('trial RLE L1 on sample', (i) => zlib.deflateRawSync(sample[i % 16], { level: 1, strategy: zlib.constants.Z_RLE }));
t('trial default L1 on sample', (i) => zlib.deflateRawSync(sample[i % 16], { level: 1 }));
t('trial default L6 on sample', (i) => zlib.deflateRawSync(sample[i % 16], { level: 6 }));
t('full default L6', (i) => zlib.deflateSync(rasters[i % 16].data, { level: 6, memLevel: 9 }));
let rle = 0, fast = 0, six = 0;
for (let i = 0; i < 16; i++) { rle += zlib.deflateRawSync(sample[i], { level: 1, strategy: zlib.constants.Z_RLE }).length; fast += zlib.deflateRawSync(sample[i], { level: 1 }).length; six += zlib.deflateRawSync(sample[i], { level: 6 }).length; }
console.log('sizes rle', rle, 'fast', fast, 'six', six, 'rle/fast', (rle / fast).toFixed(3));
