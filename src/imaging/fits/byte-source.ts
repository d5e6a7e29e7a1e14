import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

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

/**
 * A file read with positioned reads (pread) of just the ranges asked for.
 * Synchronous on purpose: conversion reads one stamp's bytes and then works
 * on them, so an asynchronous read only adds a round trip through libuv's
 * thread pool per range (on one core it competed with the conversion, and
 * indexing a Stamps file makes one read per header). Files are read this way
 * by the command line and the conversion threads; the service's own event
 * loop reads bands it already holds in memory (BufferSource).
 */
export class FileSource implements ByteSource {
  private fd: number | undefined;

  private constructor(
    fd: number,
    readonly name: string,
    readonly size: number,
  ) {
    this.fd = fd;
  }

  static async open(path: string): Promise<FileSource> {
    const fd = openSync(path, 'r');
    try {
      return new FileSource(fd, path, fstatSync(fd).size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Returns fewer bytes than asked only at end of file. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readInto(offset, length, Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset))));
  }

  async readInto(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    if (this.fd === undefined) throw new Error(`${this.name}: read after close`);
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = into.subarray(0, n);
    let got = 0;
    while (got < n) {
      const bytesRead = readSync(this.fd, buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
