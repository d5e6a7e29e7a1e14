import { open, type FileHandle } from 'node:fs/promises';

/**
 * Random-access bytes. The FITS reader only ever asks for the ranges it needs,
 * so one HDU of a multi-gigabyte Stamps file can be read without the rest.
 */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Reads into `into` (which must hold `length` bytes) and returns the filled part. */
  readInto?(offset: number, length: number, into: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<buffer>',
  ) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    return this.bytes.subarray(Math.max(0, offset), Math.max(offset, end));
  }
  /**
   * Copies rather than lends: pixel data then never aliases the source, which
   * may be a SharedArrayBuffer that conversion threads read together.
   */
  async readInto(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    const part = await this.read(offset, length);
    const out = into.subarray(0, part.length);
    out.set(part);
    return out;
  }
  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly name: string,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      return new FileSource(fh, path, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Returns fewer bytes than asked only at end of file. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readInto(offset, length, Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset))));
  }

  async readInto(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = into.subarray(0, n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
