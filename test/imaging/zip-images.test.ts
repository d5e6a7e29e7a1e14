import { describe, expect, it, beforeAll } from 'vitest';
import fc from 'fast-check';
import JSZip from 'jszip';
import pngjs from 'pngjs';
import { once } from 'node:events';
import * as zlib from 'node:zlib';
import { readImageZip, imageDimensions, naturalCompare, DEFAULT_ZIP_LIMITS } from '../../src/imaging/cutouts/zip-images.js';
import { ImagingError } from '../../src/imaging/types.js';

const FILE = 'cutouts.zip';

function png(width: number, height: number): Uint8Array {
  const img = new pngjs.PNG({ width, height });
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37) & 0xff;
  return new Uint8Array(pngjs.PNG.sync.write(img));
}

/** 3 x 2 baseline greyscale JPEG (one block, DC only); djpeg decodes it to flat grey 128. */
const TINY_JPEG = Uint8Array.from(
  Buffer.from(
    'ffd8ffe000104a46494600010100000100010000' +
      'ffdb004300' + '01'.repeat(64) +
      'ffc0000b080002000301011100' +
      'ffc40014000100000000000000000000000000000000' +
      'ffc40014100100000000000000000000000000000000' +
      'ffda0008010100003f00' + '3f' + 'ffd9',
    'hex',
  ),
);

const INDEX_JSON = new TextEncoder().encode(JSON.stringify({ format_version: 1, refs: ['a', 'b'] }));

async function jszip(files: Record<string, Uint8Array | null>, compression: 'DEFLATE' | 'STORE' = 'DEFLATE'): Promise<Uint8Array> {
  const z = new JSZip();
  for (const [name, data] of Object.entries(files)) {
    if (data === null) z.folder(name);
    else z.file(name, data);
  }
  return z.generateAsync({ type: 'uint8array', compression });
}

// ---------------------------------------------------------------------------
// A raw ZIP writer: every field hand-set, so headers can lie.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface RawEntry {
  name: string;
  /** Uncompressed content; compressed here unless `payload` is given. */
  data?: Uint8Array;
  /** Bytes to store as the entry's data, as-is. */
  payload?: Uint8Array;
  method?: 0 | 8 | number;
  size?: number;
  compressedSize?: number;
  crc?: number;
  flags?: number;
  externalAttr?: number;
  versionMadeBy?: number;
  localName?: string;
  /** Point this central record at another entry's local header. */
  sameLocalAs?: number;
  /** Write sizes and offset as 0xFFFFFFFF with a ZIP64 extra field. */
  zip64?: boolean;
}

function rawZip(entries: RawEntry[], opts: { eocdCount?: number; zip64Eocd?: boolean } = {}): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  entries.forEach((e, i) => {
    const method = e.method ?? 8;
    const data = e.data ?? new Uint8Array(0);
    const payload = e.payload ?? (method === 8 ? zlib.deflateRawSync(data) : data);
    const size = e.size ?? data.length;
    const compressedSize = e.compressedSize ?? payload.length;
    const crc = e.crc ?? crc32(data);
    const flags = e.flags ?? 0x0800;
    const name = Buffer.from(e.name, 'utf8');
    const localName = Buffer.from(e.localName ?? e.name, 'utf8');

    let localOffset = offset;
    if (e.sameLocalAs !== undefined) {
      localOffset = offsets[e.sameLocalAs];
    } else {
      const lh = Buffer.alloc(30);
      lh.writeUInt32LE(0x04034b50, 0);
      lh.writeUInt16LE(20, 4);
      lh.writeUInt16LE(flags, 6);
      lh.writeUInt16LE(method, 8);
      lh.writeUInt32LE(crc, 14);
      lh.writeUInt32LE(compressedSize >>> 0, 18);
      lh.writeUInt32LE(size >>> 0, 22);
      lh.writeUInt16LE(localName.length, 26);
      parts.push(lh, localName, Buffer.from(payload));
      offset += 30 + localName.length + payload.length;
    }
    offsets.push(localOffset);

    let extra = Buffer.alloc(0);
    if (e.zip64) {
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(compressedSize), 12);
      extra.writeBigUInt64LE(BigInt(localOffset), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(e.versionMadeBy ?? 0x031e, 4);
    ch.writeUInt16LE(e.zip64 ? 45 : 20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(e.zip64 ? 0xffffffff : compressedSize >>> 0, 20);
    ch.writeUInt32LE(e.zip64 ? 0xffffffff : size >>> 0, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE((e.externalAttr ?? (0o100644 << 16)) >>> 0, 38);
    ch.writeUInt32LE(e.zip64 ? 0xffffffff : localOffset, 42);
    central.push(ch, name, extra);
  });
  const cd = Buffer.concat(central);
  const cdOffset = offset;
  const count = opts.eocdCount ?? entries.length;
  const tail: Buffer[] = [];
  if (opts.zip64Eocd) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(count), 24);
    rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64Eocd ? 0xffff : count, 8);
  eocd.writeUInt16LE(opts.zip64Eocd ? 0xffff : count, 10);
  eocd.writeUInt32LE(opts.zip64Eocd ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64Eocd ? 0xffffffff : cdOffset, 16);
  return new Uint8Array(Buffer.concat([...parts, cd, ...tail, eocd]));
}

async function refused(zip: Uint8Array, ...mentions: string[]): Promise<ImagingError> {
  const err = await readImageZip(zip, FILE).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImagingError);
  const msg = (err as Error).message;
  expect(msg).toContain(FILE);
  for (const m of mentions) expect(msg).toContain(m);
  return err as ImagingError;
}

/** Raw-deflated zeros, built in 1 MB pieces so the test itself never holds the expansion. */
async function deflatedZeros(total: number): Promise<Uint8Array> {
  const piece = Buffer.alloc(1 << 20);
  const d = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  d.on('data', (b: Buffer) => out.push(b));
  const ended = once(d, 'end');
  for (let n = 0; n < total; n += piece.length) {
    if (!d.write(piece)) await once(d, 'drain');
  }
  d.end();
  await ended;
  return new Uint8Array(Buffer.concat(out));
}

// ---------------------------------------------------------------------------

describe('readImageZip: well-formed archives', () => {
  it('returns images in natural name order with their dimensions, skipping the Butler index', async () => {
    const p10 = png(5, 4);
    const p2 = png(3, 7);
    const p1 = png(1, 1);
    const zip = await jszip({
      'zooniverse_cutout_g_9813_42_10.png': p10,
      '_butler_zip_index.json': INDEX_JSON,
      'zooniverse_cutout_g_9813_42_2.png': p2,
      'zooniverse_cutout_g_9813_42_3.jpg': TINY_JPEG,
      'zooniverse_cutout_g_9813_42_1.png': p1,
    });
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => i.name)).toEqual([
      'zooniverse_cutout_g_9813_42_1.png',
      'zooniverse_cutout_g_9813_42_2.png',
      'zooniverse_cutout_g_9813_42_3.jpg',
      'zooniverse_cutout_g_9813_42_10.png',
    ]);
    expect(images.map((i) => i.index)).toEqual([0, 1, 2, 3]);
    expect(images.map((i) => [i.mime, i.width, i.height])).toEqual([
      ['image/png', 1, 1],
      ['image/png', 3, 7],
      ['image/jpeg', 3, 2],
      ['image/png', 5, 4],
    ]);
    expect(images[0].bytes).toEqual(p1);
    expect(images[2].bytes).toEqual(TINY_JPEG);
    expect(images[3].bytes).toEqual(p10);
    expect(skipped).toEqual([{ name: '_butler_zip_index.json', reason: expect.stringContaining('not a PNG or JPEG') }]);
  });

  it('reads stored (uncompressed) entries too', async () => {
    const zip = await jszip({ 'zooniverse_cutout_r_1_2_0001.png': png(2, 2), 'zooniverse_cutout_r_1_2_0002.jpeg': TINY_JPEG }, 'STORE');
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => [i.name, i.mime])).toEqual([
      ['zooniverse_cutout_r_1_2_0001.png', 'image/png'],
      ['zooniverse_cutout_r_1_2_0002.jpeg', 'image/jpeg'],
    ]);
    expect(skipped).toEqual([]);
  });

  it('ignores directories and orders nested paths naturally', async () => {
    const zip = await jszip({ 'run/': null, 'run/band_g/': null, 'run/band_g/c_10.png': png(1, 2), 'run/band_g/c_9.png': png(2, 1) });
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => i.name)).toEqual(['run/band_g/c_9.png', 'run/band_g/c_10.png']);
    expect(skipped).toEqual([]);
  });

  it('recognises images by content: extensionless images are read, mismatched names are skipped', async () => {
    const zip = await jszip({
      'cutout_1': png(2, 3),
      'cutout_2.png': TINY_JPEG,
      'cutout_3.jpg': png(1, 1),
      'cutout_4.png': new TextEncoder().encode('not really a picture'),
      'cutout_5.txt': png(1, 1),
      'README.md': new TextEncoder().encode('# cutouts\n'),
    });
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => [i.name, i.mime, i.width, i.height])).toEqual([['cutout_1', 'image/png', 2, 3]]);
    const reasons = Object.fromEntries(skipped.map((s) => [s.name, s.reason]));
    expect(reasons['cutout_2.png']).toMatch(/JPEG.*\.png/);
    expect(reasons['cutout_3.jpg']).toMatch(/PNG.*\.jpg/);
    expect(reasons['cutout_4.png']).toMatch(/not a PNG/);
    expect(reasons['cutout_5.txt']).toMatch(/PNG.*\.txt/);
    expect(reasons['README.md']).toMatch(/not a PNG or JPEG/);
  });

  it('skips an entry with a corrupt image header and reads the rest', async () => {
    const badCrc = png(4, 4);
    badCrc[17] ^= 0x01; // width changes, IHDR CRC no longer matches
    const zeroSize = png(4, 4);
    zeroSize.fill(0, 16, 20);
    const truncatedJpeg = TINY_JPEG.slice(0, 100); // ends inside DQT, before SOF
    const zip = await jszip({ 'a_1.png': badCrc, 'a_2.png': png(6, 5), 'a_3.jpg': truncatedJpeg, 'a_4.png': zeroSize });
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => [i.name, i.index, i.width, i.height])).toEqual([['a_2.png', 0, 6, 5]]);
    expect(skipped.map((s) => s.name).sort()).toEqual(['a_1.png', 'a_3.jpg', 'a_4.png']);
    for (const s of skipped) expect(s.reason).toMatch(/corrupt (PNG|JPEG) header/);
  });

  it('skips entries whose data is damaged (CRC mismatch, short output, bad deflate)', async () => {
    const data = png(2, 2);
    const zip = rawZip([
      { name: 'ok.png', data },
      { name: 'crc.png', data, crc: 0x12345678 },
      { name: 'short.png', data, size: data.length + 10 },
      { name: 'garbage.png', payload: Uint8Array.from([0xff, 0xff, 0xff, 0xff]), size: 10 },
      { name: 'method.png', data, method: 12, payload: data },
    ]);
    const { images, skipped } = await readImageZip(zip, FILE);
    expect(images.map((i) => i.name)).toEqual(['ok.png']);
    const reasons = Object.fromEntries(skipped.map((s) => [s.name, s.reason]));
    expect(reasons['crc.png']).toMatch(/CRC/);
    expect(reasons['short.png']).toMatch(/declares/);
    expect(reasons['garbage.png']).toMatch(/corrupt compressed data/);
    expect(reasons['method.png']).toMatch(/compression method 12/);
  });

  it('reads ZIP64 records and size fields', async () => {
    const zip = rawZip([{ name: 'z_1.png', data: png(3, 3), zip64: true }, { name: 'z_2.jpg', data: TINY_JPEG, zip64: true }], { zip64Eocd: true });
    const { images } = await readImageZip(zip, FILE);
    expect(images.map((i) => [i.name, i.width])).toEqual([
      ['z_1.png', 3],
      ['z_2.jpg', 3],
    ]);
  });

  it('the raw writer makes archives this reader and jszip agree on', async () => {
    const zip = rawZip([{ name: 'x.png', data: png(1, 1) }]);
    expect(Object.keys((await JSZip.loadAsync(zip)).files)).toEqual(['x.png']);
    expect((await readImageZip(zip, FILE)).images).toHaveLength(1);
  });
});

describe('readImageZip: hostile archives are refused whole, naming the entry', () => {
  const ok = { name: 'fine_1.png', data: png(1, 1) };

  it.each([
    ['../evil.png', "'..'"],
    ['cutouts/../../evil.png', "'..'"],
    ['..', "'..'"],
    ['/etc/cron.d/evil.png', 'absolute'],
    ['C:/Windows/evil.png', 'drive letter'],
    ['c:evil.png', 'drive letter'],
    ['..\\evil.png', 'backslash'],
    ['dir\\evil.png', 'backslash'],
    ['evil\u0000.png', 'control character'],
  ])('refuses the entry name %j', async (name, why) => {
    await refused(rawZip([ok, { name, data: png(1, 1) }]), JSON.stringify(name), why, 'refused');
  });

  it('refuses a traversal name even on a directory entry', async () => {
    await refused(rawZip([ok, { name: '../up/', data: new Uint8Array(0) }]), '../up/', "'..'");
  });

  it('refuses symlinks', async () => {
    await refused(rawZip([ok, { name: 'link.png', data: new TextEncoder().encode('/etc/passwd'), externalAttr: (0o120777 << 16) >>> 0 }]), 'link.png', 'symbolic link');
  });

  it('refuses a symlink made by jszip with unix permissions', async () => {
    const z = new JSZip();
    z.file('a_1.png', png(1, 1));
    z.file('a_2.png', '/etc/passwd', { unixPermissions: 0o120777 });
    await refused(await z.generateAsync({ type: 'uint8array', platform: 'UNIX' }), 'a_2.png', 'symbolic link');
  });

  it('refuses encrypted entries (flag bit 0, strong encryption, AES method)', async () => {
    await refused(rawZip([ok, { name: 'secret.png', data: png(1, 1), flags: 0x0801 }]), 'secret.png', 'encrypted');
    await refused(rawZip([ok, { name: 'strong.png', data: png(1, 1), flags: 0x0841 }]), 'strong.png', 'encrypted');
    await refused(rawZip([ok, { name: 'aes.png', data: png(1, 1), method: 99 }]), 'aes.png', 'encrypted');
  });

  it('refuses nested archives by extension without inflating them', async () => {
    for (const name of ['inner.zip', 'inner.tar', 'inner.tar.gz', 'inner.tgz', 'inner.7z', 'INNER.ZIP']) {
      await refused(rawZip([ok, { name, data: new TextEncoder().encode('whatever') }]), JSON.stringify(name), 'nested archive');
    }
  });

  it('refuses nested archives by magic bytes whatever their name', async () => {
    const inner = await jszip({ 'x.png': png(1, 1) });
    await refused(await jszip({ 'fine_1.png': png(1, 1), 'sneaky.png': inner }), 'sneaky.png', 'nested archive (ZIP)');
    await refused(await jszip({ 'fine_1.png': png(1, 1), 'data.bin': new Uint8Array(zlib.gzipSync(Buffer.from('hi'))) }), 'data.bin', 'nested archive (gzip)');
  });

  it('refuses too many entries before reading any of them', async () => {
    const files = Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`c_${i}.png`, png(1, 1)]));
    const err = await readImageZip(await jszip(files), FILE, { maxEntries: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImagingError);
    expect((err as Error).message).toMatch(/5 entries, over the limit of 4/);
  });

  it('refuses a declared per-entry size over the limit', async () => {
    const big = png(64, 64);
    const zip = await jszip({ 'small_1.png': png(1, 1), 'big_2.png': big });
    await expect(readImageZip(zip, FILE, { maxEntryBytes: big.length - 1 })).rejects.toThrow(/big_2\.png.*per-entry limit/);
    await expect(readImageZip(zip, FILE, { maxEntryBytes: big.length })).resolves.toBeTruthy();
  });

  it('refuses declared sizes adding up past the total limit', async () => {
    const a = png(16, 16);
    const zip = await jszip({ 'a_1.png': a, 'a_2.png': a, 'a_3.png': a });
    await expect(readImageZip(zip, FILE, { maxTotalBytes: 2 * a.length + 1 })).rejects.toThrow(/total limit/);
    await expect(readImageZip(zip, FILE, { maxTotalBytes: 3 * a.length })).resolves.toBeTruthy();
  });

  it('refuses duplicate names, overlapping entries and local/central disagreement', async () => {
    await refused(rawZip([ok, { name: 'fine_1.png', data: png(2, 2) }]), 'duplicate');
    // Same local header under another name: the names disagree.
    await refused(rawZip([ok, { name: 'alias.png', data: ok.data, sameLocalAs: 0 }]), 'alias.png', 'local header names it');
    // The first entry's declared data runs over the second's header (Fifield-style overlap).
    const a = png(2, 2);
    await refused(rawZip([{ name: 'a.png', data: a, compressedSize: zlib.deflateRawSync(a).length + 40 }, { name: 'b.png', data: png(1, 1) }]), 'b.png', 'overlaps', 'a.png');
    await refused(rawZip([ok, { name: 'shown.png', localName: 'hidden.exe', data: png(1, 1) }]), 'shown.png', 'hidden.exe');
  });

  it('refuses a stored entry whose sizes disagree', async () => {
    const data = png(2, 2);
    await refused(rawZip([{ name: 's.png', method: 0, data, size: 10 }]), 's.png', 'stored entry');
  });
});

describe('readImageZip: zip bombs and lying sizes', () => {
  const BOMB = 50 * 1024 * 1024;
  let zeros: Uint8Array;
  beforeAll(async () => {
    zeros = await deflatedZeros(BOMB);
    expect(zeros.length).toBeLessThan(100_000);
  });

  async function refusedCheaply(zip: Uint8Array, pattern: RegExp): Promise<void> {
    const before = process.memoryUsage().arrayBuffers;
    const err = await readImageZip(zip, FILE).catch((e: unknown) => e);
    const grew = process.memoryUsage().arrayBuffers - before;
    expect(err).toBeInstanceOf(ImagingError);
    expect((err as Error).message).toMatch(pattern);
    expect(grew).toBeLessThan(30 * 1024 * 1024);
  }

  it('refuses an honest 50 MB bomb by its declared size/ratio', async () => {
    await refusedCheaply(rawZip([{ name: 'bomb.png', payload: zeros, size: BOMB, crc: 0 }]), /bomb\.png.*(per-entry limit|ratio)/);
  });

  it('refuses an honest bomb by ratio alone when the size limit would allow it', async () => {
    const zip = rawZip([{ name: 'bomb.png', payload: zeros, size: BOMB, crc: 0 }]);
    await expect(readImageZip(zip, FILE, { maxEntryBytes: 100 * 1024 * 1024 })).rejects.toThrow(/ratio \d+ is over the limit of 200/);
  });

  it('refuses a bomb that declares a modest size, stopping at that size', async () => {
    // 2 MB declared over ~50 KB is ratio ~40: the metadata passes, inflation must stop it.
    await refusedCheaply(rawZip([{ name: 'liar.png', payload: zeros, size: 2 * 1024 * 1024, crc: 0 }]), /liar\.png.*inflates past 2097152 bytes/);
  });

  it('refuses a bomb that declares ratio 1 (declared = compressed)', async () => {
    await refusedCheaply(rawZip([{ name: 'liar.png', payload: zeros, size: zeros.length, crc: 0 }]), /liar\.png.*inflates past/);
  });

  it('refuses a bomb with an oversized default cap even under generous limits', async () => {
    const zip = rawZip([{ name: 'liar.png', payload: zeros, size: 15 * 1024 * 1024, crc: 0 }]);
    const before = process.memoryUsage().arrayBuffers;
    await expect(readImageZip(zip, FILE, { maxRatio: 1000 })).rejects.toThrow(/inflates past 15728640/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(30 * 1024 * 1024);
  });

  it('refuses a small entry whose declared size understates the real one', async () => {
    const real = new Uint8Array(200_000).fill(7);
    await refused(rawZip([ok(), { name: 'under.png', data: real, size: 100 }]), 'under.png', 'inflates past 100 bytes');
  });

  it('refuses a zero-size declaration with real data behind it', async () => {
    await refused(rawZip([ok(), { name: 'empty.png', data: png(2, 2), size: 0 }]), 'empty.png', 'inflates past 0 bytes');
  });

  it('counts compressed size 0 with a big declared size as an infinite ratio', async () => {
    await refused(rawZip([{ name: 'z.png', payload: new Uint8Array(0), size: 1024 * 1024 }]), 'z.png', 'ratio infinite');
  });

  function ok() {
    return { name: 'fine_1.png', data: png(1, 1) };
  }
});

describe('readImageZip: damaged input gives ImagingError or skipped entries, nothing else', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    good = await jszip({
      '_butler_zip_index.json': INDEX_JSON,
      'band/': null,
      'band/zooniverse_cutout_g_9813_42_0001.png': png(4, 3),
      'band/zooniverse_cutout_g_9813_42_0002.png': png(2, 5),
      'band/zooniverse_cutout_g_9813_42_0003.jpg': TINY_JPEG,
    });
  });

  async function onlyClearOutcomes(bytes: Uint8Array): Promise<void> {
    let result: Awaited<ReturnType<typeof readImageZip>>;
    try {
      result = await readImageZip(bytes, FILE);
    } catch (e) {
      if (!(e instanceof ImagingError)) throw new Error(`expected an ImagingError, got ${(e as Error).name}: ${(e as Error).message}`);
      expect(e.message).toContain(FILE);
      return;
    }
    result.images.forEach((img, i) => {
      expect(img.index).toBe(i);
      expect(img.width).toBeGreaterThan(0);
      expect(img.height).toBeGreaterThan(0);
      expect(imageDimensions(img.bytes)).toEqual({ mime: img.mime, width: img.width, height: img.height });
    });
    for (const s of result.skipped) expect(s.reason.length).toBeGreaterThan(0);
  }

  it('the undamaged archive reads fully', async () => {
    const { images, skipped } = await readImageZip(good, FILE);
    expect(images).toHaveLength(3);
    expect(skipped.map((s) => s.name)).toEqual(['_butler_zip_index.json']);
  });

  it('every truncation is refused with an ImagingError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (cut) => {
        await expect(readImageZip(good.slice(0, cut), FILE)).rejects.toBeInstanceOf(ImagingError);
      }),
      { numRuns: 300 },
    );
  });

  it('random bit flips give a result or an ImagingError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }), async (flips) => {
        const bad = good.slice();
        for (const [at, bit] of flips) bad[at] ^= 1 << bit;
        await onlyClearOutcomes(bad);
      }),
      { numRuns: 400 },
    );
  });

  it('random byte overwrites in the central directory give a result or an ImagingError', async () => {
    const eocd = good.length - 22;
    const cdStart = Buffer.from(good).readUInt32LE(eocd + 16);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: cdStart, max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (writes) => {
        const bad = good.slice();
        for (const [at, v] of writes) bad[at] = v;
        await onlyClearOutcomes(bad);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes are refused with an ImagingError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        await onlyClearOutcomes(bytes);
      }),
      { numRuns: 200 },
    );
  });
});

describe('imageDimensions', () => {
  it('reads PNG IHDR and JPEG SOF sizes', () => {
    expect(imageDimensions(png(7, 9))).toEqual({ mime: 'image/png', width: 7, height: 9 });
    expect(imageDimensions(TINY_JPEG)).toEqual({ mime: 'image/jpeg', width: 3, height: 2 });
  });

  it('walks fill bytes, restart markers and progressive/extended SOFs', () => {
    const j = Buffer.from(TINY_JPEG);
    const sof = j.indexOf(Buffer.from([0xff, 0xc0]));
    const withFill = Buffer.concat([j.subarray(0, sof), Buffer.from([0xff, 0xff, 0xd0]), j.subarray(sof)]);
    expect(imageDimensions(withFill)).toMatchObject({ width: 3, height: 2 });
    const progressive = Buffer.from(j);
    progressive[sof + 1] = 0xc2;
    expect(imageDimensions(progressive)).toMatchObject({ mime: 'image/jpeg', width: 3, height: 2 });
    // DHT (C4) sits in the SOF range but is not a frame header.
    const dhtFirst = Buffer.concat([j.subarray(0, 2), Buffer.from('ffc40014000100000000000000000000000000000000', 'hex'), j.subarray(2)]);
    expect(imageDimensions(dhtFirst)).toMatchObject({ width: 3, height: 2 });
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['text', new TextEncoder().encode('hello')],
    ['PNG signature only', png(1, 1).slice(0, 8)],
    ['JPEG SOI only', Uint8Array.from([0xff, 0xd8, 0xff])],
    ['JPEG with scan before frame', Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02])],
    ['JPEG with a zero segment length', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00])],
    ['JPEG with a segment running past the end', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 0x00])],
  ])('throws ImagingError for %s', (_label, bytes) => {
    expect(() => imageDimensions(bytes)).toThrow(ImagingError);
  });
});

describe('naturalCompare', () => {
  it('orders counters numerically and is a total order', () => {
    const names = ['c_10.png', 'c_2.png', 'c_1.png', 'c_02.png', 'b_99.png', 'c_100.png', 'c_9.png', 'c_99999999999999999999.png', 'c_100000000000000000000.png'];
    expect([...names].sort(naturalCompare)).toEqual([
      'b_99.png',
      'c_1.png',
      'c_02.png',
      'c_2.png',
      'c_9.png',
      'c_10.png',
      'c_100.png',
      'c_99999999999999999999.png',
      'c_100000000000000000000.png',
    ]);
  });

  it('is antisymmetric and consistent with equality', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const ab = Math.sign(naturalCompare(a, b));
        expect(ab).toBe(-Math.sign(naturalCompare(b, a)) + 0);
        expect(ab === 0).toBe(a === b);
      }),
      { numRuns: 500 },
    );
  });

  it('defaults are the documented ones', () => {
    expect(DEFAULT_ZIP_LIMITS).toEqual({ maxEntries: 20_000, maxEntryBytes: 20 * 1024 * 1024, maxTotalBytes: 2 * 1024 * 1024 * 1024, maxRatio: 200 });
  });
});
