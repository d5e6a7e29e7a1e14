import { createHash } from 'node:crypto';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

import { UpstreamError, UpstreamRefusedError, ValidationError } from '../../domain/errors.js';
import type { Artifact, ButlerSource, DatasetQuery, DatasetRef } from '../../domain/ports.js';
import { crc32 } from '../../imaging/png/crc32.js';
import { parseHeader } from '../../imaging/fits/header.js';

/*
 * A directory that `butler retrieve-artifacts` wrote, read as if it were a
 * Butler. Two shapes are understood:
 *
 *  - the default --preserve-path tree, where the datastore path starts with
 *    the run: root/<run>/<datasetType>/<tract>/<patch>/<band>/<file>.fits
 *    (the exact shape follows the repository's file template; see
 *    `pathTemplate`);
 *  - --zip output: root/<uuid5>.zip holding `_butler_zip_index.json` (the
 *    daf_butler ZipIndex, V1) and the files it describes. Each member the
 *    index attributes to the queried run and dataset type is one dataset.
 *    A .zip inside the collection's tree without an index is one dataset on
 *    its own (a formatter's ZIP of PNGs); a top-level .zip without an index
 *    cannot be attributed to any collection and is ignored, and so is one
 *    that cannot be read yet (daf_butler writes the archive in place, so a
 *    poll can meet it half-written; its change time keeps moving until it is
 *    complete, so the cursor cannot pass it).
 *
 * Identity. `id` is a UUIDv5 (RFC 4122, SHA-1, namespace PREFIX_ID_NAMESPACE)
 * of the path relative to root, POSIX separators, with `#zip-path=<member>`
 * appended for archive members. It is stable for as long as the file stays
 * where it is, and it is all fetchArtifact needs besides the cursor: the
 * cursor carries the same relative path, and fetchArtifact refuses a ref whose
 * id does not hash from it. The Butler's own UUIDs in a zip index are not
 * used, so loose files and archive members share one scheme.
 *
 * Cursor. `<change time, ms, 16 digits>/<relative path>`, where the change
 * time is max(mtime, ctime). mtime alone is not enough: a copy that preserves
 * times (cp -p, rsync -t, shutil.copy2) or a rename into place keeps an old
 * mtime, but the kernel sets ctime when the file arrives and user space cannot
 * set it back. Files must appear atomically (written under another name and
 * renamed in). retrieve-artifacts does so through lsst.resources, which
 * writes into the destination directory under a random name of 16 characters
 * from [a-z0-9_] plus the extension (or `<name>.transfer-tmp`) and renames or
 * links it into place; those names, and names starting with '.', are skipped
 * as temporaries. A file that
 * lands in a directory the walk has already passed can carry a change time
 * older than the newest one the walk saw, so listing re-yields everything
 * within `lookbackMs` before the cursor: the listing is at-least-once and the
 * caller drops ids it already has (insertDiscovered does).
 *
 * Confinement. Nothing outside root is read: collection names and paths are
 * checked segment by segment, every directory and file is resolved with
 * realpath and must stay under root's realpath, and a symlink that leads out
 * refuses the poll (a loud failure the PI sees, not a silent skip).
 */

export interface RetrieveArtifactsSourceOptions {
  root: string;
  /**
   * Where the dataId sits in the path relative to root, e.g.
   * '{run}/{datasetType}/{tract}/{patch}/{band}/{file}'. `{run}` may span
   * several directories; `{file}` and every other placeholder match one
   * segment (or part of one). Placeholders other than run, datasetType and
   * file become dataId keys; all-digit values become numbers. Without a
   * template, or for a path it does not match, the dataId comes from the
   * file name, then from the FITS primary header.
   */
  pathTemplate?: string;
  /** Files (and archive members) above this size are refused. Default 2 GiB. */
  maxArtifactBytes?: number;
  /** How far before the cursor each listing looks again. Default 10 minutes. */
  lookbackMs?: number;
}

/** Fixed forever: changing it changes every id the bridge has recorded. */
export const PREFIX_ID_NAMESPACE = 'a3d9c2e4-6b1f-4f0a-9c57-2e8b4d7f1a60';
export const ZIP_INDEX_NAME = '_butler_zip_index.json';
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;
const DEFAULT_LOOKBACK_MS = 10 * 60_000;
const ZIP_MEMBER_MARK = '#zip-path=';
const LISTED_EXTENSIONS = ['.fits', '.fit', '.fts', '.fz', '.zip'];
/** lsst.resources' ResourcePath.temporary_uri names; no Butler file template yields one. */
const LSST_RESOURCES_TEMP = /^[a-z0-9_]{16}(\.[A-Za-z0-9]+)*$/;
/** dataId values that are names even when they look like numbers. */
const STRING_KEYS = new Set(['band', 'skymap', 'instrument', 'physical_filter']);
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_HEADER_BYTES = 20 * 2880;

/** RFC 4122 version 5 UUID of `name` in PREFIX_ID_NAMESPACE. */
export function prefixDatasetId(relativePath: string): string {
  const ns = Buffer.from(PREFIX_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(relativePath, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** `changeMs` is whole milliseconds. */
export function formatPrefixCursor(changeMs: number, relativePath: string): string {
  return `${String(Math.max(0, changeMs)).padStart(16, '0')}/${relativePath}`;
}

export function parsePrefixCursor(cursor: string): { changeMs: number; relativePath: string } {
  const m = /^(\d{16})\/(.+)$/s.exec(cursor);
  if (!m) throw new ValidationError(`'${cursor}' is not a retrieve-artifacts cursor (expected <16-digit ms>/<path>)`);
  return { changeMs: Number(m[1]), relativePath: m[2] };
}

interface Candidate {
  /** POSIX path relative to root, with #zip-path=<member> for archive members. */
  rel: string;
  changeMs: number;
  cursor: string;
  datasetType: string;
  run: string;
  /** Known up front for archive members; worked out lazily for loose files. */
  dataId?: Record<string, string | number>;
  /** Absolute path of the file to read for a FITS header fallback. */
  abs: string;
}

export class RetrieveArtifactsSource implements ButlerSource {
  private readonly root: string;
  private readonly template?: CompiledTemplate;
  private readonly maxBytes: number;
  private readonly lookbackMs: number;

  constructor(opts: RetrieveArtifactsSourceOptions) {
    if (!opts.root) throw new ValidationError('a retrieve-artifacts source needs a root directory');
    this.root = opts.root;
    if (opts.pathTemplate !== undefined) this.template = compileTemplate(opts.pathTemplate);
    this.maxBytes = opts.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
    this.lookbackMs = opts.lookbackMs ?? DEFAULT_LOOKBACK_MS;
  }

  async *listDatasets(q: DatasetQuery): AsyncIterable<DatasetRef> {
    const after = q.after === undefined ? undefined : parsePrefixCursor(q.after);
    const realRoot = await this.realRoot();
    const segments = collectionSegments(q.collection);

    const found: Candidate[] = [];
    let sawCollection = false;
    const collDir = join(realRoot, ...segments);
    const collReal = await realpathOrUndefined(collDir);
    if (collReal !== undefined) {
      this.assertInside(realRoot, collReal, segments.join('/'));
      sawCollection = true;
      await this.walk(realRoot, collReal, segments.join('/'), q, found, new Set());
    }
    // --zip archives sit at the top of the destination, next to the runs.
    for (const ent of await readdir(realRoot, { withFileTypes: true })) {
      if (ent.name.startsWith('.') || !ent.name.toLowerCase().endsWith('.zip')) continue;
      const abs = join(realRoot, ent.name);
      const real = await this.resolveEntry(realRoot, abs, ent.name);
      if (!real || real.kind !== 'file') continue;
      const members = (await this.zipMembers(real.path, ent.name, real.changeMs, q, false)) ?? [];
      if (members.length) sawCollection = true;
      found.push(...members);
    }
    if (!sawCollection) {
      throw new UpstreamRefusedError(
        `The retrieve-artifacts directory has nothing for collection '${q.collection}': there is no '${segments.join('/')}' directory under it and no zip archive indexes that run.`,
      );
    }

    found.sort((a, b) => (a.cursor < b.cursor ? -1 : a.cursor > b.cursor ? 1 : 0));
    for (const c of found) {
      if (after && !(c.cursor > q.after! || c.changeMs > after.changeMs - this.lookbackMs)) continue;
      let dataId = c.dataId;
      if (!dataId) {
        try {
          dataId = await this.dataIdOf(c, q);
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') continue; // removed since the walk
          throw e;
        }
      }
      yield { id: prefixDatasetId(c.rel), datasetType: c.datasetType, run: c.run, dataId, cursor: c.cursor };
    }
  }

  async fetchArtifact(_repository: string, ref: DatasetRef): Promise<Artifact> {
    const { relativePath } = parsePrefixCursor(ref.cursor);
    if (prefixDatasetId(relativePath) !== ref.id) {
      throw new UpstreamRefusedError(`Dataset ${ref.id} does not belong to this retrieve-artifacts directory (its id does not match its path).`);
    }
    const mark = relativePath.indexOf(ZIP_MEMBER_MARK);
    const fileRel = mark >= 0 ? relativePath.slice(0, mark) : relativePath;
    const member = mark >= 0 ? relativePath.slice(mark + ZIP_MEMBER_MARK.length) : undefined;
    const realRoot = await this.realRoot();
    const segments = pathSegments(fileRel, 'path');
    const real = await realpathOrUndefined(join(realRoot, ...segments));
    if (real === undefined) throw new UpstreamRefusedError(`'${fileRel}' is no longer in the retrieve-artifacts directory.`);
    this.assertInside(realRoot, real, fileRel);

    let bytes: Uint8Array;
    const fh = await open(real, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new UpstreamRefusedError(`'${fileRel}' is not a regular file.`);
      if (member !== undefined) {
        const src = fileAccess(fh, st.size);
        const entries = await readZipDirectory(src, fileRel);
        const entry = entries.get(member);
        if (!entry) throw new UpstreamRefusedError(`Archive '${fileRel}' has no member '${member}'.`);
        bytes = await readZipEntry(src, entry, fileRel, this.maxBytes);
      } else {
        if (st.size > this.maxBytes) throw tooBig(fileRel, st.size, this.maxBytes);
        bytes = await readAllCapped(fh, fileRel, this.maxBytes);
      }
    } finally {
      await fh.close();
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { bytes, path: relativePath, size: bytes.length, sha256 };
  }

  private async realRoot(): Promise<string> {
    try {
      return await realpath(this.root);
    } catch (e) {
      // The directory may be an unmounted volume: worth trying again later.
      throw new UpstreamError(`The retrieve-artifacts directory cannot be opened (${errnoCode(e) ?? 'error'}).`);
    }
  }

  private assertInside(realRoot: string, real: string, shown: string): void {
    if (real !== realRoot && !real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) {
      throw new UpstreamRefusedError(`'${shown}' leads outside the retrieve-artifacts directory (a symlink?); refusing to read it.`);
    }
  }

  /** lstat-follow one directory entry; symlinks must stay under root. */
  private async resolveEntry(realRoot: string, abs: string, shown: string): Promise<{ path: string; kind: 'file' | 'dir'; changeMs: number } | undefined> {
    const real = await realpathOrUndefined(abs);
    if (real === undefined) return undefined; // dangling link, or gone since readdir
    this.assertInside(realRoot, real, shown);
    const st = await stat(real).catch(() => undefined);
    if (!st) return undefined;
    if (st.isDirectory()) return { path: real, kind: 'dir', changeMs: 0 };
    if (!st.isFile()) return undefined;
    return { path: real, kind: 'file', changeMs: Math.floor(Math.max(st.mtimeMs, st.ctimeMs)) };
  }

  private async walk(realRoot: string, dirReal: string, dirRel: string, q: DatasetQuery, out: Candidate[], seen: Set<string>): Promise<void> {
    if (seen.has(dirReal)) return; // a symlink loop inside root
    seen.add(dirReal);
    let entries;
    try {
      entries = await readdir(dirReal, { withFileTypes: true });
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return; // removed since its parent was read
      if (code === 'EACCES' || code === 'EPERM') throw new UpstreamRefusedError(`The bridge may not read '${dirRel}' in the retrieve-artifacts directory (${code}).`);
      throw new UpstreamError(`'${dirRel}' in the retrieve-artifacts directory cannot be read (${code ?? 'error'}).`);
    }
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue;
      const rel = `${dirRel}/${ent.name}`;
      const r = await this.resolveEntry(realRoot, join(dirReal, ent.name), rel);
      if (!r) continue;
      if (r.kind === 'dir') {
        await this.walk(realRoot, r.path, rel, q, out, seen);
        continue;
      }
      const lower = ent.name.toLowerCase();
      if (!LISTED_EXTENSIONS.some((x) => lower.endsWith(x)) || LSST_RESOURCES_TEMP.test(ent.name)) continue;
      if (lower.endsWith('.zip')) {
        const members = await this.zipMembers(r.path, rel, r.changeMs, q, true);
        if (members) {
          out.push(...members);
          continue;
        }
      }
      const typed = this.classify(rel, q);
      if (!typed) continue;
      out.push({ rel, changeMs: r.changeMs, cursor: formatPrefixCursor(r.changeMs, rel), abs: r.path, ...typed });
    }
  }

  /** Dataset type and run of a loose file, or undefined when it is not the queried dataset type. */
  private classify(rel: string, q: DatasetQuery): { datasetType: string; run: string; dataId?: Record<string, string | number> } | undefined {
    const m = this.template?.match(rel);
    if (m && (m.run ?? q.collection) === q.collection) {
      if ((m.datasetType ?? q.datasetType) !== q.datasetType) return undefined;
      return { datasetType: q.datasetType, run: q.collection, dataId: m.dataId };
    }
    // The default file template puts the dataset type right under the run
    // ("{run:/}/{datasetType}.{component:?}/..."), and starts the file name with it.
    const below = rel.slice(q.collection.length + 1);
    const first = below.split('/')[0];
    if (first.startsWith(`${q.datasetType}.`)) return undefined; // a component of a disassembled composite
    const name = basename(rel);
    if (first === q.datasetType || name.startsWith(`${q.datasetType}_`)) return { datasetType: q.datasetType, run: q.collection };
    return undefined;
  }

  private async dataIdOf(c: Candidate, q: DatasetQuery): Promise<Record<string, string | number>> {
    const fromName = dataIdFromFileName(basename(c.rel), q.datasetType);
    if (fromName) return fromName;
    if (/\.(fits|fit|fts|fz)$/i.test(c.rel)) return (await dataIdFromFitsHeader(c.abs)) ?? {};
    return {};
  }

  /**
   * Members of an archive for this query; undefined when a .zip inside the
   * collection's tree has no Butler index (it is then a dataset itself).
   */
  private async zipMembers(abs: string, rel: string, changeMs: number, q: DatasetQuery, inCollection: boolean): Promise<Candidate[] | undefined> {
    const fh = await open(abs, 'r');
    let index: ZipIndexV1 | undefined;
    let names: Set<string>;
    try {
      const src = fileAccess(fh, (await fh.stat()).size);
      const entries = await readZipDirectory(src, rel);
      names = new Set(entries.keys());
      const entry = entries.get(ZIP_INDEX_NAME);
      if (entry) index = parseZipIndex(await readZipEntry(src, entry, rel, MAX_INDEX_BYTES), rel);
    } catch (e) {
      if (!(e instanceof UpstreamRefusedError)) throw e;
      // A loose .zip in the collection that is not an archive we can read is
      // still a dataset; the conversion step reports what is wrong with it.
      // A top-level one may still be being written (--zip writes the archive
      // in place, not under a temporary name): look again next poll.
      return inCollection ? undefined : [];
    } finally {
      await fh.close();
    }
    if (!index) return inCollection ? undefined : [];
    const out: Candidate[] = [];
    for (const [member, art] of Object.entries(index.artifact_map)) {
      if (art.info?.component != null) continue; // one file of a disassembled composite
      const ref = [...art.ids].sort().map((id) => index!.refs.compact_refs[id]).find((r) => r && r.dataset_type_name === q.datasetType && r.run === q.collection);
      if (!ref) continue;
      if (!names.has(member)) throw new UpstreamRefusedError(`Archive '${rel}' indexes a member '${member}' that it does not contain.`);
      pathSegments(member, 'archive member');
      const mrel = `${rel}${ZIP_MEMBER_MARK}${member}`;
      out.push({ rel: mrel, changeMs, cursor: formatPrefixCursor(changeMs, mrel), abs, datasetType: q.datasetType, run: q.collection, dataId: cleanDataId(ref.data_id) });
    }
    return out;
  }
}

function collectionSegments(collection: string): string[] {
  return pathSegments(collection, 'collection name');
}

/** Splits a relative POSIX path, refusing anything that could climb or escape. */
function pathSegments(p: string, what: string): string[] {
  const segs = p.split('/');
  if (!p || p.startsWith('/') || p.includes('\\') || p.includes('\0') || segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw new UpstreamRefusedError(`The ${what} '${p}' is not a plain relative path; refusing to look it up in the retrieve-artifacts directory.`);
  }
  return segs;
}

async function realpathOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function tooBig(what: string, size: number, cap: number): UpstreamRefusedError {
  return new UpstreamRefusedError(`'${what}' is ${size} bytes, over the ${cap}-byte limit for one artifact.`);
}

async function readAllCapped(fh: FileHandle, what: string, cap: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    // The file may grow while we read it; the cap is on what we actually read.
    if (total > cap) throw tooBig(what, total, cap);
    chunks.push(buf.subarray(0, bytesRead));
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

function toDataIdValue(key: string, v: string): string | number {
  if (!STRING_KEYS.has(key) && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  return v;
}

function cleanDataId(raw: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (typeof raw !== 'object' || raw === null) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
  }
  return out;
}

// ---------------------------------------------------------------- templates

interface CompiledTemplate {
  match(rel: string): { run?: string; datasetType?: string; dataId: Record<string, string | number> } | undefined;
}

function compileTemplate(template: string): CompiledTemplate {
  const names: string[] = [];
  let src = '';
  let last = 0;
  const re = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    src += escapeRegExp(template.slice(last, m.index));
    names.push(m[1]);
    src += m[1] === 'run' ? '(.+?)' : '([^/]+?)';
    last = m.index + m[0].length;
  }
  const tail = template.slice(last);
  if (/[{}]/.test(tail) || /[{}]/.test(template.replace(re, ''))) {
    throw new ValidationError(`pathTemplate '${template}' has a malformed placeholder (use {name} with letters, digits and _)`);
  }
  src += escapeRegExp(tail);
  if (!names.length) throw new ValidationError(`pathTemplate '${template}' has no placeholders`);
  const regex = new RegExp(`^${src}$`, 's');
  return {
    match(rel) {
      const m = regex.exec(rel);
      if (!m) return undefined;
      const got = new Map<string, string>();
      for (let i = 0; i < names.length; i++) {
        const prev = got.get(names[i]);
        // A name used twice (in the directories and the file name) must agree.
        if (prev !== undefined && prev !== m[i + 1]) return undefined;
        got.set(names[i], m[i + 1]);
      }
      const dataId: Record<string, string | number> = {};
      for (const [k, v] of got) if (k !== 'run' && k !== 'datasetType' && k !== 'file') dataId[k] = toDataIdValue(k, v);
      return { run: got.get('run'), datasetType: got.get('datasetType'), dataId };
    },
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Two file-name shapes: `<type>_<band>_<tract>_<patch>_<run>` (the layout the
 * PI notebooks produce) and `<type>_<tract>_<patch>_<band>_...` (daf_butler's
 * default template for band+tract+patch datasets). A band is never all
 * digits, tract and patch always are, so the two cannot be confused.
 */
export function dataIdFromFileName(name: string, datasetType: string): Record<string, string | number> | undefined {
  if (!name.startsWith(`${datasetType}_`)) return undefined;
  const rest = name.slice(datasetType.length + 1);
  const band = '([A-Za-z][A-Za-z0-9-]*)';
  const a = new RegExp(`^${band}_(\\d+)_(\\d+)(?:[_.]|$)`).exec(rest);
  if (a) return { band: a[1], tract: Number(a[2]), patch: Number(a[3]) };
  const b = new RegExp(`^(\\d+)_(\\d+)_${band}(?:[_.]|$)`).exec(rest);
  if (b) return { band: b[3], tract: Number(b[1]), patch: Number(b[2]) };
  return undefined;
}

/** BAND (or FILTER), TRACT and PATCH from the primary header; undefined when none is there. */
export async function dataIdFromFitsHeader(path: string): Promise<Record<string, string | number> | undefined> {
  const fh = await open(path, 'r');
  let parsed: ReturnType<typeof parseHeader> = null;
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    let have = 0;
    while (have < buf.length) {
      const { bytesRead } = await fh.read(buf, have, 2880, have);
      if (bytesRead === 0) break;
      have += bytesRead;
      if (have % 2880 === 0 && (parsed = parseHeader(buf.subarray(0, have)))) break;
    }
  } finally {
    await fh.close();
  }
  if (!parsed) return undefined;
  const h = parsed.header;
  const out: Record<string, string | number> = {};
  const band = h.string('BAND') ?? h.string('FILTER');
  if (band) out.band = band.trim();
  for (const [key, name] of [
    ['TRACT', 'tract'],
    ['PATCH', 'patch'],
  ] as const) {
    const v = h.get(key);
    if (typeof v === 'number' && Number.isSafeInteger(v)) out[name] = v;
    else if (typeof v === 'string' && /^\d+$/.test(v.trim())) out[name] = Number(v.trim());
  }
  return Object.keys(out).length ? out : undefined;
}

// ---------------------------------------------------------------- zip index

interface ZipIndexV1 {
  refs: { compact_refs: Record<string, { dataset_type_name: string; run: string; data_id: Record<string, unknown> } | undefined> };
  artifact_map: Record<string, { info?: { component?: string | null }; ids: string[] }>;
}

/** The V1 ZipIndex of daf_butler (datastores/file_datastore/retrieve_artifacts.py). */
function parseZipIndex(bytes: Uint8Array, what: string): ZipIndexV1 {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new UpstreamRefusedError(`Archive '${what}' has a ${ZIP_INDEX_NAME} that is not JSON.`);
  }
  const o = raw as Partial<{ index_version: unknown; refs: { container_version?: unknown; compact_refs?: unknown }; artifact_map: unknown }>;
  const ok =
    o &&
    o.index_version === 'V1' &&
    o.refs?.container_version === 'V1' &&
    typeof o.refs.compact_refs === 'object' &&
    o.refs.compact_refs !== null &&
    typeof o.artifact_map === 'object' &&
    o.artifact_map !== null &&
    Object.values(o.artifact_map).every((a) => a && Array.isArray((a as { ids?: unknown }).ids));
  if (!ok) throw new UpstreamRefusedError(`Archive '${what}' has a ${ZIP_INDEX_NAME} in a format this bridge does not know (expected index_version V1).`);
  return raw as ZipIndexV1;
}

// ---------------------------------------------------------------- zip reader

/*
 * Just enough of ZIP to find the index and one member without reading the
 * whole archive: the central directory (zip64 included, as Python's zipfile
 * writes it for big archives), stored and deflated members, CRC checked, and
 * every size checked against the caps before anything is inflated.
 */

export interface RandomAccess {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

export interface ZipMember {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;

export function bytesAccess(bytes: Uint8Array): RandomAccess {
  return {
    size: bytes.length,
    read: async (position, length) => {
      if (position < 0 || position + length > bytes.length) throw new RangeError('read past the end');
      return bytes.subarray(position, position + length);
    },
  };
}

function fileAccess(fh: FileHandle, size: number): RandomAccess {
  return {
    size,
    read: async (position, length) => {
      if (position < 0 || position + length > size) throw new RangeError('read past the end');
      const buf = Buffer.alloc(length);
      let have = 0;
      while (have < length) {
        const { bytesRead } = await fh.read(buf, have, length - have, position + have);
        if (bytesRead === 0) throw new RangeError('file shrank while reading');
        have += bytesRead;
      }
      return buf;
    },
  };
}

function u16(d: Uint8Array, at: number): number {
  return d[at] | (d[at + 1] << 8);
}
function u32(d: Uint8Array, at: number): number {
  return (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
}
function u64(d: Uint8Array, at: number): number {
  const hi = u32(d, at + 4);
  if (hi >= 0x200000) throw new RangeError('64-bit size beyond 2^53');
  return hi * 0x100000000 + u32(d, at);
}

function badZip(what: string, why: string): UpstreamRefusedError {
  return new UpstreamRefusedError(`Archive '${what}' is not a readable zip: ${why}.`);
}

export async function readZipDirectory(src: RandomAccess, what: string): Promise<Map<string, ZipMember>> {
  try {
    if (src.size < 22) throw badZip(what, 'too short');
    const tailLen = Math.min(src.size, 22 + 0xffff);
    const tailAt = src.size - tailLen;
    const tail = await src.read(tailAt, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (u32(tail, i) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw badZip(what, 'no end-of-central-directory record');
    let count = u16(tail, eocd + 10);
    let cdSize = u32(tail, eocd + 12);
    let cdOffset = u32(tail, eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locAt = tailAt + eocd - 20;
      if (locAt < 0) throw badZip(what, 'zip64 locator missing');
      const loc = await src.read(locAt, 20);
      if (u32(loc, 0) !== SIG_ZIP64_LOCATOR) throw badZip(what, 'zip64 locator missing');
      const z64At = u64(loc, 8);
      if (z64At + 56 > src.size) throw badZip(what, 'zip64 record out of range');
      const z = await src.read(z64At, 56);
      if (u32(z, 0) !== SIG_ZIP64_EOCD) throw badZip(what, 'zip64 record missing');
      count = u64(z, 32);
      cdSize = u64(z, 40);
      cdOffset = u64(z, 48);
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY || cdOffset + cdSize > src.size) throw badZip(what, 'central directory out of range');
    const cd = await src.read(cdOffset, cdSize);
    const out = new Map<string, ZipMember>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || u32(cd, p) !== SIG_CENTRAL) throw badZip(what, 'corrupt central directory');
      const flags = u16(cd, p + 8);
      const method = u16(cd, p + 10);
      const crc = u32(cd, p + 16);
      let compressedSize = u32(cd, p + 20);
      let size = u32(cd, p + 24);
      const nameLen = u16(cd, p + 28);
      const extraLen = u16(cd, p + 30);
      const commentLen = u16(cd, p + 32);
      let localOffset = u32(cd, p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw badZip(what, 'corrupt central directory');
      const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = u16(cd, e);
        const len = u16(cd, e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = u64(cd, q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8);
          if (localOffset === 0xffffffff) localOffset = u64(cd, q);
        }
        e += 4 + len;
      }
      if (!name.endsWith('/')) out.set(name, { name, flags, method, crc, compressedSize, size, localOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return out;
  } catch (e) {
    if (e instanceof RangeError) throw badZip(what, e.message);
    throw e;
  }
}

export async function readZipEntry(src: RandomAccess, m: ZipMember, what: string, cap: number): Promise<Uint8Array> {
  const shown = `${what}${ZIP_MEMBER_MARK}${m.name}`;
  if (m.flags & 0x0041) throw badZip(what, `member '${m.name}' is encrypted`);
  if (m.size > cap) throw tooBig(shown, m.size, cap);
  try {
    const head = await src.read(m.localOffset, 30);
    if (u32(head, 0) !== SIG_LOCAL) throw badZip(what, `member '${m.name}' has no local header`);
    const start = m.localOffset + 30 + u16(head, 26) + u16(head, 28);
    if (start + m.compressedSize > src.size) throw badZip(what, `member '${m.name}' runs past the end`);
    const raw = await src.read(start, m.compressedSize);
    let data: Uint8Array;
    // A copy, so the member does not pin the whole archive in memory.
    if (m.method === 0) data = raw.slice();
    else if (m.method === 8) {
      try {
        // The declared size is only a claim: cap the real output, not the claim.
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, Math.min(cap, m.size) + 1) });
      } catch (e) {
        if (e instanceof RangeError) throw badZip(what, `member '${m.name}' inflates past its declared size`);
        throw badZip(what, `member '${m.name}' does not inflate`);
      }
    } else throw badZip(what, `member '${m.name}' uses compression method ${m.method}`);
    if (data.length !== m.size) throw badZip(what, `member '${m.name}' is ${data.length} bytes, its header says ${m.size}`);
    if (crc32(data) !== m.crc) throw badZip(what, `member '${m.name}' fails its CRC check`);
    return data;
  } catch (e) {
    if (e instanceof RangeError) throw badZip(what, e.message);
    throw e;
  }
}
