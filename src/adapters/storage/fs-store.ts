import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fchmodSync, fstatSync, fsync, openSync, statSync, unlinkSync, write as writeFd, writeSync } from 'node:fs';
import { access, chmod, mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { ConflictError, NotFoundError, UpstreamError, UpstreamRefusedError, ValidationError } from '../../domain/errors.js';
import type { GetOptions, ObjectStore, PutOptions, StoreArea, StoredObject } from '../../domain/ports/object-store.js';
import {
  DEFAULT_MAX_GET_BYTES,
  DEFAULT_PUBLIC_CACHE_CONTROL,
  assertPutOptions,
  assertValidKey,
  encodeKeyForUrl,
  isValidKey,
} from './keys.js';

/*
 * Longer than 400 lines because the crash-safety argument below covers
 * every operation (put, copy, delete, serving) and is easiest to check when
 * they sit together.
 *
 * On-disk layout (root is owned by this service):
 *
 *   root/quarantine/<key>            0700 dirs, 0600 files: never served
 *   root/public/<key>                0755 dirs, 0644 files: raw bytes, servable as-is
 *   root/.meta/<area>/<key>.<ino>.json   0700 dirs, 0600 files
 *
 * The data file is the single commit point. Its metadata sidecar is named
 * after the inode of the data file it describes and is written and fsynced
 * (file and directory) *before* the data file is renamed into place, so
 * whenever a data file is visible its own metadata already exists, and a
 * reader can never pair new bytes with old metadata or vice versa (rename
 * keeps the inode). The sidecar needs no temp file and rename of its own:
 * while it is written, the inode in its name belongs to our temp file, which
 * no reader can reach, and an inode number is not reused while any file or
 * open handle holds it, so no reader looks that sidecar up until the rename.
 * A crash at any point leaves either the old object or the new one, plus at
 * worst an unreferenced temp file or sidecar (a later write that gets the same
 * inode replaces such a sidecar). Temp files are named `.#...tmp`; `#` is not a
 * key character, so they are unreachable through the store or servePublic.
 * Sidecars live outside the area trees so no key can collide with one.
 *
 * Cost per put (the pipeline stores every PNG it makes): directories already
 * made are remembered (a bounded set), so a put to a known directory makes
 * none; the SHA-256 is taken from the caller when it has one; modes are fixed
 * with fchmod only when the umask changed them. What stays is what
 * durability needs: data fsync, sidecar fsync, both directories' fsyncs.
 * Only the fsyncs, which wait on the disk, and the rename leave the event
 * loop; the open, write, stat and close of a file are made directly, as they take
 * microseconds on a local disk, where each trip through the thread pool cost
 * ~0.1 ms of CPU (measured: a put of 18 such trips cost 1.5-2.4 ms CPU, the
 * same calls made directly ~0.5 ms). Data and sidecar are fsynced together,
 * and a directory fsync is shared by every put into that directory that
 * renamed before it began (see syncDir).
 */

export interface FsObjectStoreOptions {
  root: string;
  /** Origin (and optional path) that servePublic is mounted under; publicUrl = `${publicBaseUrl}/public/${key}`. */
  publicBaseUrl: string;
  /** get() buffers the object; larger objects are refused with ValidationError. Default 64 MiB. */
  maxGetBytes?: number;
}

interface Meta {
  v: 1;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  cacheControl?: string;
  /** Inode of the data file, as a decimal string (inodes can exceed 2^53). */
  ino: string;
}

/** An open public object, for serving. The caller owns `handle` and must close it. */
export interface OpenPublicObject {
  handle: FileHandle;
  object: StoredObject;
  cacheControl: string;
  lastModified: Date;
}

const AREAS: readonly StoreArea[] = ['quarantine', 'public'];
const DIR_MODE: Record<StoreArea, number> = { quarantine: 0o700, public: 0o755 };
const FILE_MODE: Record<StoreArea, number> = { quarantine: 0o600, public: 0o644 };
const META_DIR_MODE = 0o700;
const META_FILE_MODE = 0o600;
/** Retries when a concurrent overwrite swaps the data file between our open and our sidecar read. */
const READ_ATTEMPTS = 3;
/**
 * Directories remembered as made. Images go under one directory per
 * collection, so a few thousand cover any working set; past this the set
 * starts again (forgetting costs one mkdir per directory), bounding memory.
 */
const MAX_KNOWN_DIRS = 4096;
/** Chunks up to this size are written without a trip through the thread pool (see writeAll). */
const SYNC_WRITE_MAX = 4 * 1024 * 1024;

/** A directory's fsync in progress, and the one queued behind it for puts that renamed after it began. */
interface DirSync {
  running: Promise<void>;
  queued?: Promise<void>;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Exhausted resources may pass; anything else is a bug or a broken disk and is rethrown as is. */
function mapIoError(err: unknown, what: string): unknown {
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY') {
    return new UpstreamError(`filesystem store: ${what} failed (${code})`, 5_000);
  }
  return err;
}

function assertArea(area: unknown): asserts area is StoreArea {
  if (area !== 'quarantine' && area !== 'public') {
    throw new ValidationError(`unknown store area ${JSON.stringify(area)}`, { field: 'area' });
  }
}

function tempName(forFile: string): string {
  return `.#${forFile}.${randomBytes(8).toString('hex')}.tmp`;
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the rename itself has still happened.
    if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'EISDIR') throw err;
  } finally {
    await fh?.close();
  }
}

/**
 * Writes a whole chunk at the file's current position. Chunks up to
 * SYNC_WRITE_MAX go straight into the page cache; a larger one (a big
 * artifact) is written through the thread pool, so the event loop is never
 * held for long.
 */
async function writeAll(fd: number, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    offset +=
      chunk.byteLength <= SYNC_WRITE_MAX
        ? writeSync(fd, chunk, offset, chunk.byteLength - offset)
        : await new Promise<number>((resolve, reject) => writeFd(fd, chunk, offset, chunk.byteLength - offset, null, (err, n) => (err ? reject(err) : resolve(n))));
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // Already failing; the first error is the one reported.
  }
}

function toUint8Array(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Fills `into` from the start of the file; a file that ends early (or a caller's buffer of the wrong size) is an error, never a short body. */
async function readExactly(handle: FileHandle, into: Uint8Array, what: string): Promise<Uint8Array> {
  let at = 0;
  while (at < into.byteLength) {
    const { bytesRead } = await handle.read(into, at, into.byteLength - at, at);
    if (bytesRead === 0) throw new UpstreamError(`object ${what} ended after ${at} of its ${into.byteLength} bytes`);
    at += bytesRead;
  }
  return into;
}

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  readonly publicBaseUrl: string;
  readonly maxGetBytes: number;
  private ready: Promise<void> | undefined;
  /** Per-key write serialisation within this process; see the note in write(). */
  private readonly locks = new Map<string, Promise<void>>();
  /** Directories this process made or found (see MAX_KNOWN_DIRS); forgotten when a write finds one gone. */
  private readonly knownDirs = new Set<string>();
  /** Directory fsyncs in progress (see syncDir). */
  private readonly dirSyncs = new Map<string, DirSync>();

  constructor(opts: FsObjectStoreOptions) {
    if (!opts.root) throw new ValidationError('FsObjectStore needs a root directory', { field: 'root' });
    this.root = opts.root;
    this.publicBaseUrl = opts.publicBaseUrl.replace(/\/+$/, '');
    this.maxGetBytes = opts.maxGetBytes ?? DEFAULT_MAX_GET_BYTES;
  }

  async put(area: StoreArea, key: string, body: Uint8Array, opts: PutOptions): Promise<StoredObject> {
    assertArea(area);
    assertValidKey(key);
    assertPutOptions(opts);
    return this.withLock(area, key, () => this.write(area, key, [body], opts, undefined, opts.sha256));
  }

  async get(area: StoreArea, key: string, opts: GetOptions = {}): Promise<{ body: Uint8Array; contentType: string }> {
    assertArea(area);
    assertValidKey(key);
    const opened = await this.openObject(area, key);
    if (!opened) throw new NotFoundError(`object ${area}/${key} not found`, { area, key });
    try {
      if (opened.meta.size > this.maxGetBytes) {
        throw new ValidationError(`object ${area}/${key} is ${opened.meta.size} bytes, over the ${this.maxGetBytes}-byte read limit`, { area, key });
      }
      if (opts.alloc) return { body: await readExactly(opened.handle, opts.alloc(opened.meta.size), `${area}/${key}`), contentType: opened.meta.contentType };
      const body = await opened.handle.readFile();
      return { body: toUint8Array(body), contentType: opened.meta.contentType };
    } catch (err) {
      throw mapIoError(err, `reading ${area}/${key}`);
    } finally {
      await opened.handle.close();
    }
  }

  async head(area: StoreArea, key: string): Promise<StoredObject | undefined> {
    assertArea(area);
    assertValidKey(key);
    const opened = await this.openObject(area, key);
    if (!opened) return undefined;
    await opened.handle.close();
    return storedObject(opened.meta);
  }

  async delete(area: StoreArea, key: string): Promise<void> {
    assertArea(area);
    assertValidKey(key);
    await this.init();
    await this.withLock(area, key, async () => {
      const path = this.dataPath(area, key);
      let ino: bigint;
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) return;
        ino = st.ino;
        await unlink(path);
      } catch (err) {
        if (isAbsent(err)) return;
        throw mapIoError(err, `deleting ${area}/${key}`);
      }
      await this.syncDir(dirname(path));
      await unlink(this.metaPath(area, key, ino)).catch(ignoreAbsent);
    });
  }

  async copy(
    from: { area: StoreArea; key: string },
    to: { area: StoreArea; key: string },
    opts: PutOptions,
  ): Promise<StoredObject> {
    assertArea(from.area);
    assertArea(to.area);
    assertValidKey(from.key);
    assertValidKey(to.key);
    assertPutOptions(opts);
    return this.withLock(to.area, to.key, async () => {
      const source = await this.openObject(from.area, from.key);
      if (!source) throw new NotFoundError(`object ${from.area}/${from.key} not found`, { area: from.area, key: from.key });
      const stream = source.handle.createReadStream({ start: 0, autoClose: true });
      try {
        // Streamed rather than copyFile(): the bytes must be the ones whose sidecar we read,
        // and re-hashing them on the way catches a corrupted source before it is published.
        return await this.write(to.area, to.key, stream, opts, source.meta.sha256);
      } finally {
        stream.destroy();
      }
    });
  }

  publicUrl(key: string): string {
    assertValidKey(key);
    return `${this.publicBaseUrl}/public/${encodeKeyForUrl(key)}`;
  }

  async check(): Promise<void> {
    try {
      await this.init();
    } catch (err) {
      throw new UpstreamError(`filesystem store: cannot prepare ${this.root} (${errnoCode(err) ?? String(err)})`);
    }
    for (const dir of [...AREAS.map((a) => this.areaRoot(a)), ...AREAS.map((a) => this.metaRoot(a))]) {
      try {
        await access(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
      } catch (err) {
        throw new UpstreamError(`filesystem store: ${dir} is not readable and writable (${errnoCode(err) ?? String(err)})`);
      }
    }
  }

  /**
   * Opens a public object for serving. Takes no area on purpose: this is the
   * only read path servePublic has, so quarantine cannot be reached from it.
   * Returns undefined for invalid keys as well as missing objects.
   */
  async openPublic(key: string): Promise<OpenPublicObject | undefined> {
    if (!isValidKey(key)) return undefined;
    const opened = await this.openObject('public', key);
    if (!opened) return undefined;
    return {
      handle: opened.handle,
      object: storedObject(opened.meta),
      cacheControl: opened.meta.cacheControl ?? DEFAULT_PUBLIC_CACHE_CONTROL,
      lastModified: opened.mtime,
    };
  }

  // --- internals -----------------------------------------------------------

  private areaRoot(area: StoreArea): string {
    return join(this.root, area);
  }

  private metaRoot(area: StoreArea): string {
    return join(this.root, '.meta', area);
  }

  private dataPath(area: StoreArea, key: string): string {
    return join(this.areaRoot(area), ...key.split('/'));
  }

  private metaPath(area: StoreArea, key: string, ino: bigint): string {
    return `${join(this.metaRoot(area), ...key.split('/'))}.${ino.toString()}.json`;
  }

  private init(): Promise<void> {
    this.ready ??= this.createLayout().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async createLayout(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    // Enforced even on existing directories: a quarantine dir someone made world-readable is a leak.
    await ensureDir(this.areaRoot('quarantine'), DIR_MODE.quarantine, true);
    await ensureDir(this.areaRoot('public'), DIR_MODE.public, true);
    await ensureDir(join(this.root, '.meta'), META_DIR_MODE, true);
    for (const area of AREAS) await ensureDir(this.metaRoot(area), META_DIR_MODE, true);
  }

  private async ensureParents(base: string, key: string, mode: number): Promise<void> {
    let dir = base;
    for (const segment of key.split('/').slice(0, -1)) {
      dir = join(dir, segment);
      if (this.knownDirs.has(dir)) continue;
      await ensureDir(dir, mode, false);
      if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
      this.knownDirs.add(dir);
    }
  }

  /** Both trees' parents of a key; with `fresh`, forgets what was remembered first (a directory removed behind our back). */
  private async ensureAllParents(area: StoreArea, key: string, fresh: boolean): Promise<void> {
    if (fresh) this.knownDirs.clear();
    try {
      await this.ensureParents(this.areaRoot(area), key, DIR_MODE[area]);
      await this.ensureParents(this.metaRoot(area), key, META_DIR_MODE);
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'EEXIST') throw keyConflict(area, key);
      throw mapIoError(err, `creating directories for ${area}/${key}`);
    }
  }

  /**
   * Opens the data file and its sidecar as one consistent pair (same inode).
   * Undefined when absent, when the key names a "directory", or when the data
   * file has no sidecar (not written by this store, or a torn external copy).
   */
  private async openObject(area: StoreArea, key: string): Promise<{ handle: FileHandle; meta: Meta; mtime: Date } | undefined> {
    await this.init();
    const path = this.dataPath(area, key);
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      let handle: FileHandle;
      try {
        // O_NOFOLLOW: a symlink planted in the public tree must not lead a reader elsewhere.
        handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      } catch (err) {
        if (isAbsent(err) || errnoCode(err) === 'ELOOP') return undefined;
        throw mapIoError(err, `opening ${area}/${key}`);
      }
      try {
        const st = await handle.stat({ bigint: true });
        if (!st.isFile()) {
          await handle.close();
          return undefined;
        }
        const meta = await this.readMeta(area, key, st.ino);
        if (meta && BigInt(meta.size) === st.size) return { handle, meta, mtime: st.mtime };
        await handle.close();
        // Missing sidecar: either a concurrent overwrite replaced the file under us (try again)
        // or the file is not ours (stays missing).
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw mapIoError(err, `opening ${area}/${key}`);
      }
    }
    return undefined;
  }

  private async readMeta(area: StoreArea, key: string, ino: bigint): Promise<Meta | undefined> {
    let text: string;
    try {
      text = await readFile(this.metaPath(area, key, ino), 'utf8');
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw err;
    }
    try {
      const meta = JSON.parse(text) as Meta;
      if (meta.v !== 1 || meta.key !== key || meta.ino !== ino.toString()) return undefined;
      return meta;
    } catch {
      return undefined;
    }
  }

  /**
   * The one write path (put and copy). Callers hold the key's lock: without it
   * two overwrites of one key could interleave so that one removes the sidecar
   * of the other's data file after the kernel reused an inode number.
   * `expectedSha256` (copy) is checked against the bytes written; `knownSha256`
   * (put, the caller's own hash of `chunks`) is recorded without hashing again.
   */
  private async write(
    area: StoreArea,
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    opts: PutOptions,
    expectedSha256?: string,
    knownSha256?: string,
  ): Promise<StoredObject> {
    await this.init();
    const dataPath = this.dataPath(area, key);
    const dir = dirname(dataPath);
    await this.ensureAllParents(area, key, false);

    const tmpPath = join(dir, tempName(basename(dataPath)));
    let metaPath: string | undefined;
    let committed = false;
    let fd: number | undefined;
    let metaFd: number | undefined;
    try {
      try {
        fd = openSync(tmpPath, 'wx', FILE_MODE[area]);
      } catch (err) {
        // A remembered directory was removed behind our back: make the parents again, once.
        if (errnoCode(err) !== 'ENOENT') throw err;
        await this.ensureAllParents(area, key, true);
        fd = openSync(tmpPath, 'wx', FILE_MODE[area]);
      }
      const st = fstatSync(fd, { bigint: true });
      const ino = st.ino;
      // open()'s mode is filtered by the umask; the area's mode is a policy, not a default.
      // The umask only removes bits, so when the mode came out right no fchmod is needed.
      const umaskTouched = (Number(st.mode) & 0o777) !== FILE_MODE[area];
      if (umaskTouched) fchmodSync(fd, FILE_MODE[area]);
      const hash = knownSha256 === undefined ? createHash('sha256') : undefined;
      let size = 0;
      for await (const chunk of chunks) {
        hash?.update(chunk);
        await writeAll(fd, chunk);
        size += chunk.byteLength;
      }

      const sha256 = hash ? hash.digest('hex') : knownSha256!;
      if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
        throw new UpstreamRefusedError(`filesystem store: source object is corrupt (sha256 ${sha256}, recorded ${expectedSha256})`, { area, key });
      }
      const meta: Meta = { v: 1, key, size, sha256, contentType: opts.contentType, ino: ino.toString() };
      if (opts.cacheControl !== undefined) meta.cacheControl = opts.cacheControl;

      metaPath = this.metaPath(area, key, ino);
      try {
        metaFd = openSidecar(metaPath);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        await this.ensureAllParents(area, key, true);
        metaFd = openSidecar(metaPath);
      }
      // META_FILE_MODE's bits are a subset of every FILE_MODE: if the umask left the data file's mode alone, it leaves the sidecar's too.
      if (umaskTouched) fchmodSync(metaFd, META_FILE_MODE);
      await writeAll(metaFd, Buffer.from(JSON.stringify(meta), 'utf8'));
      // Both durable, and the sidecar's name in its directory, before the data file becomes visible.
      await Promise.all([fsyncFd(fd), fsyncFd(metaFd)]);
      closeSync(fd);
      fd = undefined;
      closeSync(metaFd);
      metaFd = undefined;
      await this.syncDir(dirname(metaPath));

      let previousIno: bigint | undefined;
      try {
        const st = statSync(dataPath, { bigint: true });
        if (st.isFile()) previousIno = st.ino;
      } catch {
        // Nothing there yet.
      }
      // Through the thread pool like the fsyncs: the one step whose crash-safety the tests stop and inspect (test/storage).
      await rename(tmpPath, dataPath);
      committed = true;
      await this.syncDir(dir);
      if (previousIno !== undefined && previousIno !== ino) {
        try {
          unlinkSync(this.metaPath(area, key, previousIno));
        } catch (err) {
          ignoreAbsent(err);
        }
      }
      return storedObject(meta);
    } catch (err) {
      closeQuietly(fd);
      closeQuietly(metaFd);
      if (!committed) {
        for (const path of [tmpPath, metaPath]) {
          try {
            if (path) unlinkSync(path);
          } catch {
            // Best effort: a leftover temp file or sidecar is harmless (see the header).
          }
        }
      }
      if (errnoCode(err) === 'EISDIR' || errnoCode(err) === 'ENOTDIR') throw keyConflict(area, key);
      throw mapIoError(err, `writing ${area}/${key}`);
    }
  }

  /**
   * fsyncs a directory after an entry change (a rename or unlink) in it.
   * One fsync covers every change made before it began, so a put that
   * renamed while another put's fsync of the same directory was already
   * running waits for the next one, which all such puts share; concurrent
   * puts into one directory (a group's images) pay about one directory
   * fsync between them instead of one each.
   */
  private syncDir(dir: string): Promise<void> {
    const current = this.dirSyncs.get(dir);
    if (!current) return this.startDirSync(dir);
    current.queued ??= current.running.then(noop, noop).then(() => this.startDirSync(dir));
    return current.queued;
  }

  private startDirSync(dir: string): Promise<void> {
    const entry: DirSync = { running: Promise.resolve() };
    entry.running = fsyncDir(dir).finally(() => {
      if (this.dirSyncs.get(dir) === entry) this.dirSyncs.delete(dir);
    });
    this.dirSyncs.set(dir, entry);
    return entry.running;
  }

  private async withLock<T>(area: StoreArea, key: string, fn: () => Promise<T>): Promise<T> {
    const id = `${area}\0${key}`;
    const previous = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.locks.set(id, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }
}

function storedObject(meta: Meta): StoredObject {
  return { key: meta.key, size: meta.size, contentType: meta.contentType, sha256: meta.sha256 };
}

function isAbsent(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function ignoreAbsent(err: unknown): void {
  if (!isAbsent(err)) throw err;
}

function keyConflict(area: StoreArea, key: string): ConflictError {
  return new ConflictError(
    `object key ${JSON.stringify(key)} in ${area} clashes with an existing key that is a prefix of it or has it as a prefix (the filesystem store cannot hold both "a" and "a/b")`,
    { area, key },
  );
}

async function ensureDir(dir: string, mode: number, enforceExisting: boolean): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    if (!enforceExisting) return;
    const st = await stat(dir);
    if (!st.isDirectory()) throw err;
    if ((st.mode & 0o777) === mode) return;
  }
  await chmod(dir, mode);
}

/**
 * Creates a sidecar under its final name (see the header: no reader can look
 * it up yet); the caller writes and fsyncs it, and fsyncs its directory,
 * before renaming the data file into place. A sidecar already there is a
 * stale one left by a crash for a dead file with the same inode number:
 * replaced.
 */
function openSidecar(path: string): number {
  try {
    return openSync(path, 'wx', META_FILE_MODE);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    unlinkSync(path);
    return openSync(path, 'wx', META_FILE_MODE);
  }
}

function noop(): void {}

// --- HTTP ----------------------------------------------------------------------

/** Express-compatible (req, res, next) without depending on Express. */
export type NodeRequestHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

const PUBLIC_PREFIX = '/public/';

/**
 * The URL path after `/public/` as a key, or undefined when it is not a valid
 * key. Each segment is decoded on its own and must be a valid segment after
 * decoding, so `%2e%2e`, `%2f` and `%5c` cannot smuggle in structure.
 */
function keyFromPath(rest: string): string | undefined {
  if (rest.includes('\\')) return undefined;
  const segments: string[] = [];
  for (const raw of rest.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment.includes('/') || segment.includes('\\')) return undefined;
    segments.push(segment);
  }
  const key = segments.join('/');
  return isValidKey(key) ? key : undefined;
}

function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.trim() === '*') return true;
  // If-None-Match uses the weak comparison: W/"x" matches "x".
  return value.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/**
 * Serves GET/HEAD `/public/<key>` from the public area and nothing else.
 * Mount it at the application root (it matches on the full `req.url`); other
 * paths go to `next` when given, or get a 404.
 */
export function servePublic(store: FsObjectStore): NodeRequestHandler {
  return (req, res, next) => {
    const url = req.url ?? '';
    const pathEnd = url.search(/[?#]/);
    const pathname = pathEnd === -1 ? url : url.slice(0, pathEnd);
    if (pathname !== '/public' && !pathname.startsWith(PUBLIC_PREFIX)) {
      if (next) next();
      else sendStatus(res, 404, 'Not Found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendStatus(res, 405, 'Method Not Allowed');
      return;
    }
    const key = keyFromPath(pathname.slice(PUBLIC_PREFIX.length));
    if (key === undefined) {
      sendStatus(res, 404, 'Not Found');
      return;
    }
    void respondWithObject(store, key, req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy(err instanceof Error ? err : undefined);
      else if (next) next(err);
      else sendStatus(res, 500, 'Internal Server Error');
    });
  };
}

async function respondWithObject(store: FsObjectStore, key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const opened = await store.openPublic(key);
  if (!opened) {
    sendStatus(res, 404, 'Not Found');
    return;
  }
  const { handle, object } = opened;
  let streaming = false;
  try {
    const etag = `"${object.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', opened.cacheControl);
    res.setHeader('Last-Modified', opened.lastModified.toUTCString());
    setCommonHeaders(res);
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', object.contentType);
    res.setHeader('Content-Length', String(object.size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    streaming = true;
    await pipeline(handle.createReadStream({ start: 0, autoClose: true }), res);
  } finally {
    if (!streaming) await handle.close();
  }
}

function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

function sendStatus(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  setCommonHeaders(res);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`${text}\n`);
}
