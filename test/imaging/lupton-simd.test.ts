import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { luptonRgb, rgbF32 } from '../../src/imaging/colour/lupton.js';
import { luptonSimdAvailable, rgbF32Simd } from '../../src/imaging/colour/lupton-simd.js';
import { pythonWith } from '../support/python.js';
// Seeded, so a failure can be replayed.
import { rng } from '../../src/imaging/synthetic.js';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { expandInlines, generatedModule } from '../../scripts/build-wasm.mjs';

const SPECIAL = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-40, -0, 0];

/** Sky noise, sources over many decades, cancelling channels and undefined values, mixed pixel by pixel. */
function plane(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = rand();
    if (t < 0.35) a[i] = (rand() - 0.5) * 20;
    else if (t < 0.65) a[i] = rand() ** 4 * 1e4 * (rand() < 0.1 ? -1 : 1);
    else if (t < 0.97) a[i] = (rand() - 0.3) * 10 ** (rand() * 14 - 7);
    else a[i] = SPECIAL[Math.floor(rand() * SPECIAL.length)];
  }
  return a;
}

/** astropy's effective softening and slope, as lupton.ts's constants() computes them. */
function params(stretch: number, Q: number): { soften: number; slope: number } {
  const q = Math.abs(Q) < 2 ** -23 ? 0.1 : Math.min(Q, 1e10);
  return { soften: q / stretch, slope: 25.5 / Math.asinh(0.1 * q) };
}

describe('Lupton in WebAssembly SIMD (lupton-simd.wat)', () => {
  it('the committed binary is what lupton-simd.wat assembles to (run `npm run build:wasm` after editing the .wat)', async () => {
    const wat = 'src/imaging/colour/lupton-simd.wat';
    const expected = await generatedModule(wat, readFileSync(wat, 'utf8'));
    expect(readFileSync('src/imaging/colour/lupton-simd.wasm.ts', 'utf8')).toBe(expected);
  });

  it('the build pastes a (;@define ... @end;) block wherever a line says ;; @inline, and names a missing one', () => {
    const text = '(module\n  (;@define two\n    (i32.const 1)\n    (i32.const 1)\n  @end;)\n  (func (result i32)\n    ;; @inline two\n    i32.add))';
    expect(expandInlines(text)).toContain('  (func (result i32)\n    (i32.const 1)\n    (i32.const 1)\n    i32.add))');
    expect(() => expandInlines('(module\n  ;; @inline nothing\n)')).toThrow(/@inline nothing: no \(;@define nothing/);
  });

  it('runs on this Node (WebAssembly SIMD), so the fast path is the one users get', () => {
    expect(luptonSimdAvailable()).toBe(true);
  });

  // Sizes: one pixel, a tail that is not a multiple of 4, more than one 16384-pixel chunk.
  const cases = [
    { n: 1, stretch: 5, Q: 8 },
    { n: 7, stretch: 0.5, Q: 0 },
    { n: 16384 * 2 + 5, stretch: 50, Q: 8 },
    { n: 65536, stretch: 1e-3, Q: 1e-9 },
    { n: 40000, stretch: 1e4, Q: 100 },
    { n: 40000, stretch: 3, Q: 1e11 },
  ];
  for (const [k, c] of cases.entries()) {
    it(`gives the JavaScript float32 loop's bytes: ${c.n} pixels, stretch ${c.stretch}, Q ${c.Q}`, () => {
      const rand = rng(1000 + k);
      const [r, g, b] = [plane(c.n, rand), plane(c.n, rand), plane(c.n, rand)];
      const minimum: [number, number, number] = [(rand() - 0.5) * 2, 0, -0.1];
      const { soften, slope } = params(c.stretch, c.Q);
      const js = new Uint8Array(3 * c.n);
      const simd = new Uint8Array(3 * c.n).fill(7);
      rgbF32(r, g, b, minimum, soften, slope, js);
      const f = Math.fround;
      expect(rgbF32Simd(r, g, b, f(minimum[0]), f(minimum[1]), f(minimum[2]), f(soften), f(slope), simd)).toBe(true);
      const differing = js.findIndex((v, i) => v !== simd[i]);
      expect(differing, `first differing byte at ${differing}`).toBe(-1);
      // The data must have exercised every branch: black, mid-range and saturated bytes.
      if (c.n > 1000) expect(js.includes(0) && js.includes(255) && js.some((v) => v > 20 && v < 200)).toBe(true);
    });
  }

  it('writes only its 3 bytes a pixel: the rest of a larger output buffer is untouched', () => {
    const n = 5;
    const p = { width: n, height: 1, data: Float32Array.from([1, 2, 3, 4, 5]) };
    const out = new Uint8Array(3 * n + 8).fill(9);
    luptonRgb(p, p, p, { minimum: [0, 0, 0], stretch: 5, Q: 8 }, out.subarray(0, 3 * n));
    expect(Array.from(out.subarray(3 * n))).toEqual(new Array(8).fill(9));
  });

  const PYTHON = pythonWith(['astropy', 'numpy']);
  it.skipIf(!PYTHON)('equals astropy make_lupton_rgb byte for byte on 200,000 float32 pixels of every kind (where numpy rounds asinh correctly)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lupton-simd-'));
    try {
      const n = 200_000;
      const rand = rng(77);
      const planes = [plane(n, rand), plane(n, rand), plane(n, rand)];
      // astropy's arithmetic on undefined values is not our contract (lupton.ts): those pixels are left out here.
      for (let i = 0; i < n; i++) if (planes.some((p) => !Number.isFinite(p[i]) || Math.abs(p[i]) > 1e30)) for (const p of planes) p[i] = 0;
      planes.forEach((p, k) => writeFileSync(join(dir, `${k}.f32`), Buffer.from(p.buffer)));
      const py = spawnSync(PYTHON!, ['-c', `
import numpy as np, sys, warnings
from astropy.visualization import make_lupton_rgb
warnings.simplefilter('ignore')
d = sys.argv[1]
r, g, b = (np.fromfile(f'{d}/{k}.f32', dtype='<f4') for k in range(3))
rgb = make_lupton_rgb(r, g, b, minimum=[0.25, 0, -0.1], stretch=5, Q=8)
rgb.astype(np.uint8).tofile(f'{d}/rgb.u8')
# Where numpy's float32 arcsinh is not the correctly rounded value: its SVML
# kernels on AVX-512 CPUs differ in the last place for ~0.01-2% of arguments,
# glibc's asinhf (numpy's choice on AVX2-only CPUs) for ~8-11% of these.
u = ((r - np.float32(0.25)) + g + (b + np.float32(0.1))) / np.float32(3) * np.float32(1.6)
(np.arcsinh(u) != np.arcsinh(u.astype(np.float64)).astype(np.float32)).astype(np.uint8).tofile(f'{d}/off.u8')
`, dir], { encoding: 'utf8' });
      expect(py.status, py.stderr).toBe(0);
      const astropy = readFileSync(join(dir, 'rgb.u8'));
      const numpyOff = readFileSync(join(dir, 'off.u8'));
      const ours = luptonRgb(...(planes.map((data) => ({ width: n, height: 1, data })) as [never, never, never]), { minimum: [0.25, 0, -0.1], stretch: 5, Q: 8 }).data;
      // Our asinh is rounded correctly from double precision on every CPU; astropy's
      // bytes follow numpy's, so pixels where numpy's asinh is a place off are not compared.
      const differing = ours.findIndex((v, i) => v !== astropy[i] && !numpyOff[Math.floor(i / 3)]);
      // Most pixels must still be compared (a numpy that is off everywhere would make this test empty).
      expect(numpyOff.reduce((s, v) => s + v, 0)).toBeLessThan(n * 0.25);
      expect(differing, `first differing byte at ${differing}`).toBe(-1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
