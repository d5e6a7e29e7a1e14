import * as zlib from 'node:zlib';

/** CRC-32 (PNG, ZIP). node:zlib has a native one from Node 20.15; engines allows any Node 20. */
export function crc32(data: Uint8Array): number {
  return zlib.crc32 ? zlib.crc32(data) >>> 0 : jsCrc32(data);
}

let table: Uint32Array | undefined;

function jsCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
