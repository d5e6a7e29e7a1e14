import { createHash } from 'node:crypto';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';

import { UpstreamError, UpstreamRefusedError, ValidationError } from '../../domain/errors.js';
import type { Artifact, ButlerSource, DatasetQuery, DatasetRef } from '../../domain/ports/butler-source.js';
import { entryDataStart, fileAccess, readZipDirectory, readZipEntry, ZipEntryDamaged, ZipRefused, type RandomAccess, type ZipEntry } from '../../imaging/cutouts/zip-archive.js';
import { readPrimaryHeader } from '../../imaging/fits/observation-time.js';

/*
 * A directory that `butler retrieve-artifacts` wrote, read as if it were a
 * Butler. Longer than 400 lines because both layouts, their identity scheme
 * and the change-time cursor must agree with each other exactly. Two shapes
 * are understood:
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
        const entries = await readZipMembers(src, fileRel);
        const entry = entries.get(member);
        if (!entry) throw new UpstreamRefusedError(`Archive '${fileRel}' has no member '${member}'.`);
        bytes = await readZipMember(src, entry, fileRel, this.maxBytes);
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
      const entries = await readZipMembers(src, rel);
      names = new Set(entries.keys());
      const entry = entries.get(ZIP_INDEX_NAME);
      if (entry) index = parseZipIndex(await readZipMember(src, entry, rel, MAX_INDEX_BYTES), rel);
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
  const h = await readPrimaryHeader(path, MAX_HEADER_BYTES);
  if (!h) return undefined;
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
 * ZIP access for --zip output and datastore zips, over the bridge's one ZIP
 * reader: only the directory and the member asked for are read, with the
 * artifact size cap on the output.
 */

/** Butler zips hold one member per dataset; this bounds the directory we parse. */
const MAX_ZIP_MEMBERS = 1_000_000;

function badZip(what: string, why: string): UpstreamRefusedError {
  return new UpstreamRefusedError(`Archive '${what}' is not a readable zip: ${why}.`);
}

export async function readZipMembers(src: RandomAccess, what: string): Promise<Map<string, ZipEntry>> {
  try {
    const entries = await readZipDirectory(src, MAX_ZIP_MEMBERS);
    return new Map(entries.filter((e) => !e.isDirectory).map((e) => [e.name, e]));
  } catch (e) {
    if (e instanceof ZipRefused) throw badZip(what, e.message);
    throw e;
  }
}

export async function readZipMember(src: RandomAccess, m: ZipEntry, what: string, cap: number): Promise<Uint8Array> {
  if (m.size > cap) throw tooBig(`${what}${ZIP_MEMBER_MARK}${m.name}`, m.size, cap);
  try {
    return await readZipEntry(src, m, await entryDataStart(src, m), m.size);
  } catch (e) {
    if (e instanceof ZipRefused || e instanceof ZipEntryDamaged) throw badZip(what, e.message);
    throw e;
  }
}
