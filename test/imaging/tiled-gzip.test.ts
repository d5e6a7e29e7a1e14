import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FitsFile } from '../../src/imaging/fits/fits-file.js';
import { readImage } from '../../src/imaging/fits/image-reader.js';
import { writeStampsFile } from '../../src/imaging/fits/stamps-writer.js';
import { syntheticStamp } from '../../src/imaging/synthetic.js';
import { spawnSync } from 'node:child_process';
import { pythonWith } from '../support/python.js';

/**
 * GZIP_2 images with one tile per row (how the Butler stores Rubin images)
 * are inflated in one zlib call when their tiles lie back to back in the
 * heap, and tile by tile otherwise (src/imaging/fits/tiled-image.ts). Both
 * ways must give the stored pixels exactly, and damage to one tile must
 * still be reported as that tile's.
 */
const W = 40;
const H = 24;

/** Where each tile's gzip member starts in the file: the gzip magic and deflate method, then flags 0. */
function members(bytes: Uint8Array, from: number): number[] {
  const at: number[] = [];
  for (let i = from; i + 3 < bytes.length; i++) if (bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8 && bytes[i + 3] === 0) at.push(i);
  return at;
}

describe('GZIP_2 tiles, one per image row', () => {
  let dir: string;
  let path: string;
  let plane: Float32Array;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tiled-gzip-'));
    path = join(dir, 'g.fits');
    const s = syntheticStamp(W, H, 7)[0];
    plane = Float32Array.from(s.data);
    await writeStampsFile(path, 1, () => ({ plane: s }), [{ ra: 150, dec: 2.2 }], { compress: 'GZIP_2' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function read(bytes: Uint8Array): Promise<Float32Array> {
    const f = await FitsFile.fromBytes(bytes, 'g.fits');
    const hdu = f.hdus.find((h) => h.extname === 'IMAGE')!;
    return Float32Array.from((await readImage(f, hdu)).data);
  }

  it('reads back the stored pixels exactly', async () => {
    const bytes = new Uint8Array(await readFile(path));
    expect(members(bytes, 0)).toHaveLength(H);
    expect(await read(bytes)).toEqual(plane);
  });

  it('reads them tile by tile when the tiles are not back to back, with the same pixels', async () => {
    // Swap the heap descriptors' offsets of rows 3 and 4 (and their lengths): the tiles are then out of heap order.
    const bytes = new Uint8Array(await readFile(path));
    const f = await FitsFile.fromBytes(bytes, 'g.fits');
    const hdu = f.hdus.find((h) => h.extname === 'IMAGE')!;
    const start = hdu.dataOffset;
    const rowBytes = hdu.header.number('NAXIS1')!;
    const colOffset = 0; // COMPRESSED_DATA is the first column our writer emits
    expect(hdu.header.string('TTYPE1')?.trim()).toBe('COMPRESSED_DATA');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const a = start + 3 * rowBytes + colOffset;
    const b = start + 4 * rowBytes + colOffset;
    const [ca, oa, cb, ob] = [dv.getInt32(a), dv.getInt32(a + 4), dv.getInt32(b), dv.getInt32(b + 4)];
    // Row 3's tile moved behind row 4's in the heap: copy both tiles' bytes swapped, and point the descriptors at them.
    const heap = start + hdu.header.number('NAXIS2')! * rowBytes;
    const ta = bytes.slice(heap + oa, heap + oa + ca);
    const tb = bytes.slice(heap + ob, heap + ob + cb);
    bytes.set(tb, heap + oa);
    bytes.set(ta, heap + oa + cb);
    dv.setInt32(b, cb);
    dv.setInt32(b + 4, oa);
    dv.setInt32(a, ca);
    dv.setInt32(a + 4, oa + cb);
    expect(await read(bytes)).toEqual(plane);
  });

  it('names the damaged tile', async () => {
    const bytes = new Uint8Array(await readFile(path));
    const at = members(bytes, 0);
    // Tile 6's deflate data (past its 10-byte header), damaged.
    for (let k = 12; k < 20; k++) bytes[at[5] + k] ^= 0x5a;
    await expect(read(bytes)).rejects.toThrow(/tile 6: gzip data is corrupt/);
  });

  it('names the tile whose gzip trailer states another size', async () => {
    const bytes = new Uint8Array(await readFile(path));
    const at = members(bytes, 0);
    // Tile 3's ISIZE: the four bytes before tile 4's member.
    const dv = new DataView(bytes.buffer);
    dv.setUint32(at[3] - 4, dv.getUint32(at[3] - 4, true) + 4, true);
    await expect(read(bytes)).rejects.toThrow(/tile 3: gzip data/);
  });
});

const PYTHON = pythonWith(['astropy', 'numpy']);

describe.skipIf(!PYTHON)('GZIP_2 float32 tiles of several rows, written by astropy', () => {
  // 16 x 8 tiles on a 40 x 24 image: partial tiles on the right edge, NaN and infinities kept bit for bit.
  it('reads every pixel as astropy does, edge tiles and non-finite values included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiled-gzip2-'));
    try {
      const py = spawnSync(PYTHON!, ['-c', `
import numpy as np, sys
from astropy.io import fits
rng = np.random.default_rng(5)
a = (rng.normal(0, 3, (24, 40)) * 10.0 ** rng.integers(-3, 4, (24, 40))).astype('>f4')
a[2, 3] = np.nan; a[20, 39] = np.inf; a[0, 0] = -np.inf; a[11, 17] = -0.0
hdu = fits.CompImageHDU(a, compression_type='GZIP_2', tile_size=(16, 8), quantize_level=0)
fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(sys.argv[1] + '/t.fits')
with fits.open(sys.argv[1] + '/t.fits') as f:
    f[1].data.astype('<f4').tofile(sys.argv[1] + '/t.f32')
`, dir], { encoding: 'utf8' });
      expect(py.status, py.stderr).toBe(0);
      const f = await FitsFile.fromBytes(new Uint8Array(await readFile(join(dir, 't.fits'))), 't.fits');
      const img = await readImage(f, f.hdus[1]);
      expect([img.width, img.height]).toEqual([40, 24]);
      const ours = new Uint32Array(Float32Array.from(img.data).buffer);
      const astropy = new Uint32Array(new Uint8Array(await readFile(join(dir, 't.f32'))).buffer);
      expect(Array.from(ours)).toEqual(Array.from(astropy));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
