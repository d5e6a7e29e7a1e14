import { WASM_BASE64 } from './lupton-simd.wasm.js';

/**
 * Runs the float32 Lupton loop in WebAssembly SIMD (lupton-simd.wat): four
 * pixels per step in true float32 arithmetic, where the JavaScript loop
 * rounds every double result with Math.fround. Same bytes as rgbF32 in
 * lupton.ts (test/imaging/lupton-simd.test.ts compares them on random,
 * cancelling, saturated and undefined pixels, and the astropy vectors run
 * through it), at about a third of its time.
 *
 * The planes are copied into the module's memory CHUNK pixels at a time, so
 * the memory stays at 256 KiB whatever the image size; each thread (isolate)
 * compiles its own instance on first use.
 */

const CHUNK = 16384;
const G_AT = 65536;
const B_AT = 131072;
const OUT_AT = 196608;

interface Kernel {
  memory: { buffer: ArrayBuffer };
  rgb(n: number, mr: number, mg: number, mb: number, soften: number, slope: number): void;
}

/** The part of the WebAssembly API used here (the compiler's lib has its types but not the global). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}

/** undefined: not tried yet; null: this runtime cannot run it (no WebAssembly SIMD), and the JavaScript loop is used. */
let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const instance = new wasm.Instance(new wasm.Module(Buffer.from(WASM_BASE64, 'base64')));
    kernel = instance.exports as unknown as Kernel;
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether the WebAssembly loop can run here. */
export function luptonSimdAvailable(): boolean {
  return load() !== null;
}

/**
 * The float32 loop: x_c = X_c - m_c, I, asinh, fac, saturation, truncation,
 * interleaved into `data` (3 bytes a pixel). Parameters already rounded to
 * float32. Returns false, writing nothing, when WebAssembly SIMD is missing.
 */
export function rgbF32Simd(
  rd: Float32Array,
  gd: Float32Array,
  bd: Float32Array,
  mr: number,
  mg: number,
  mb: number,
  soften: number,
  slope: number,
  data: Uint8Array,
): boolean {
  const k = load();
  if (!k) return false;
  // Views made per call: the memory never grows, but a view is cheap and this keeps the code obviously safe.
  const planes = new Float32Array(k.memory.buffer, 0, 3 * CHUNK);
  const out = new Uint8Array(k.memory.buffer, OUT_AT, 3 * CHUNK);
  const n = rd.length;
  for (let i = 0; i < n; i += CHUNK) {
    const len = Math.min(CHUNK, n - i);
    planes.set(rd.subarray(i, i + len), 0);
    planes.set(gd.subarray(i, i + len), G_AT / 4);
    planes.set(bd.subarray(i, i + len), B_AT / 4);
    // The last step of four reads up to 3 pixels past the chunk: zeros, whose bytes are not copied out.
    const padded = (len + 3) & ~3;
    if (padded > len) {
      planes.fill(0, len, padded);
      planes.fill(0, G_AT / 4 + len, G_AT / 4 + padded);
      planes.fill(0, B_AT / 4 + len, B_AT / 4 + padded);
    }
    k.rgb(padded, mr, mg, mb, soften, slope);
    data.set(out.subarray(0, 3 * len), 3 * i);
  }
  return true;
}
