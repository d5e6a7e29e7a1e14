import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import { UpstreamError, UpstreamRefusedError, ValidationError } from '../../domain/errors.js';
import type { Artifact, ButlerSource, DatasetQuery, DatasetRef } from '../../domain/ports/butler-source.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, readZipMember, readZipMembers } from './prefix-source.js';
import { bytesAccess } from '../../imaging/cutouts/zip-archive.js';
import { TransientFailure, networkErrorCode, retrying, transientAnswer, type RetryPolicy, type TransientStatuses, type UpstreamRetryNotice } from '../http/retry.js';

/*
 * Client of the Butler server REST API (daf_butler remote_butler), as the EPO
 * service account: lists a PI's run collection and downloads its files.
 * The wire contract is shared/reference/butler-api.md.
 *
 * Longer than 400 lines because it is the whole contract in one place: the
 * cursor, the query stream with its keep-alives, artifact downloads through
 * presigned URLs, and the mapping of every failure, each depending on the others.
 *
 * The listing cursor
 * ------------------
 * The only filter that makes a poll cost O(new datasets) is the registry's
 * ingest_date (`where: "ingest_date > :after"`), but no endpoint of the
 * contract returns a dataset's ingest date: SerializedDatasetRef has none,
 * and v1/dataset/{id} and v1/datasets return the same model. So the cursor is
 * a watermark in our own clock, not a per-dataset ingest time:
 *
 *   cursor = <ISO-8601 UTC, ms>/<dataset uuid>
 *
 * A listing notes our clock before it sends the query (W), asks for
 * `ingest_date > (previous watermark - cursorLookbackMs)`, reads the whole
 * stream, sorts the refs by id, and gives every ref the previous watermark as
 * its cursor except the last one, which gets W. The caller (pollCollection)
 * commits the largest cursor after each batch, so the watermark moves to W
 * only once the whole listing has been handed over; a crash half-way resumes
 * from the old watermark and lists the same datasets again.
 *
 * The lookback exists because ingest_date is stamped by the writer's clock
 * when the insert runs, not when the transaction commits: a long ingest can
 * become visible after a poll whose watermark is already past its stamp, and
 * the writer's clock and ours differ. Datasets ingested inside the lookback
 * window are therefore listed again on the next polls. The listing is thus
 * at-least-once, and the caller must drop ids it has already recorded
 * (insertDiscovered does, per collection and dataset id): the ids already
 * seen are the real cursor, the watermark only bounds the query.
 *
 * bind literal for the watermark, from daf_butler queries/tree/_column_literal.py
 * (DateTimeColumnLiteral): {"expression_type": "datetime", "nsec": <int>},
 * nsec = TAI nanoseconds since 1970-01-01 00:00:00 TAI, sent as a bare JSON
 * integer (it does not fit a double, so it is written from a BigInt).
 *
 * Nothing is yielded before the stream has ended cleanly: a stream cut short
 * (connection reset, body ending mid-line, read timeout) is an error and the
 * query is sent again, so a truncated listing can never pass for a short one
 * and a retry never duplicates what was already handed over.
 */

export interface ButlerServerSourceOptions {
  /** Told of each failed attempt (the service logs it at info and counts it for /metrics). */
  onRetry?: (n: UpstreamRetryNotice) => void;
  /** Root of the Science Platform, e.g. https://data.lsst.cloud */
  baseUrl: string;
  /** Bearer token of the EPO service account; asked for on every request and never kept. */
  token: () => string | Promise<string>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Wall clock (ms since the epoch) for the listing watermark. */
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest silence tolerated while waiting for headers or between body chunks. */
  readTimeoutMs?: number;
  userAgent?: string;
  /** Default 2 GiB. */
  maxArtifactBytes?: number;
  /** How far before the watermark each listing looks again. Default 1 hour. */
  cursorLookbackMs?: number;
}

/** Fresh presigned URLs asked for when storage says one has expired. */
const MAX_URL_REFRESHES = 2;
const DEFAULT_LOOKBACK_MS = 60 * 60_000;
const MAX_JSON_BYTES = 16 * 1024 * 1024;
const MAX_LINE_BYTES = 256 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
const ZIP_MEMBER_MARK = '#zip-path=';
const EPOCH_ISO = new Date(0).toISOString();
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** S3 ("AccessDenied ... Request has expired") and GCS ("ExpiredToken") say it differently. */
const EXPIRED_BODY = /expired|ExpiredToken|<Code>AccessDenied<\/Code>/i;

export function formatButlerCursor(watermarkMs: number, datasetId: string): string {
  return `${new Date(watermarkMs).toISOString()}/${datasetId}`;
}

/** The watermark of a cursor (a bare ISO time is accepted too). */
export function parseButlerCursor(cursor: string): number {
  const iso = cursor.split('/', 1)[0];
  const ms = ISO_MS.test(iso) ? Date.parse(iso) : NaN;
  if (!Number.isFinite(ms)) throw new ValidationError(`'${cursor}' is not a Butler listing cursor (expected <ISO time>/<dataset id>)`);
  return ms;
}

/** TAI - UTC in seconds from each date on (IERS Bulletin C; none announced after 2017). */
const LEAP_SECONDS: [number, number][] = [
  [1972, 0, 10], [1972, 6, 11], [1973, 0, 12], [1974, 0, 13], [1975, 0, 14], [1976, 0, 15], [1977, 0, 16],
  [1978, 0, 17], [1979, 0, 18], [1980, 0, 19], [1981, 6, 20], [1982, 6, 21], [1983, 6, 22], [1985, 6, 23],
  [1988, 0, 24], [1990, 0, 25], [1991, 0, 26], [1992, 6, 27], [1993, 6, 28], [1994, 6, 29], [1996, 0, 30],
  [1997, 6, 31], [1999, 0, 32], [2006, 0, 33], [2009, 0, 34], [2012, 6, 35], [2015, 6, 36], [2017, 0, 37],
].map(([y, m, s]) => [Date.UTC(y, m, 1), s]);

/** daf_butler's datetime literal: TAI nanoseconds since 1970-01-01T00:00:00 TAI (valid from 1972). */
export function utcMsToTaiNsec(utcMs: number): bigint {
  let taiMinusUtc = LEAP_SECONDS[0][1];
  for (const [from, s] of LEAP_SECONDS) if (utcMs >= from) taiMinusUtc = s;
  return (BigInt(Math.floor(utcMs)) + BigInt(taiMinusUtc) * 1000n) * 1_000_000n;
}

/** The API: a timeout, throttling or a server in trouble; only throttling says how long to wait. */
const API_TRANSIENT: TransientStatuses = { below500: new Set([408, 429]), retryAfter: new Set([429, 503]) };
/** Storage (S3, GCS) may send Retry-After with any of its transient answers. */
const STORAGE_TRANSIENT: TransientStatuses = { below500: new Set([408, 429]), retryAfter: 'all' };

/** Storage says the presigned URL has expired: ask get_file for a new one. */
class ExpiredUrl extends Error {}

/** Aborts a request when nothing has arrived for `ms`; reset on every chunk. */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  constructor(readonly ms: number) {
    this.reset();
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  reset(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.ms);
    this.timer.unref?.();
  }
  clear(): void {
    clearTimeout(this.timer);
  }
  abort(): void {
    clearTimeout(this.timer);
    this.controller.abort();
  }
}

interface FileInfo {
  url: string;
  auth: 'none' | 'datastore' | 'gafaelfawr';
  path: string;
  fileSize?: number;
}

interface Opened {
  res: Response;
  idle: IdleTimer;
  token?: string;
  requestId?: string;
}

export class ButlerServerSource implements ButlerSource {
  private readonly root: string;
  private readonly host: string;
  private readonly token: () => string | Promise<string>;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly retry: RetryPolicy;
  /** The same policy, told as storage's: file downloads go to the datastore, not the Butler server. */
  private readonly storageRetry: RetryPolicy;
  private readonly readTimeoutMs: number;
  private readonly userAgent: string;
  private readonly maxArtifactBytes: number;
  private readonly lookbackMs: number;

  constructor(opts: ButlerServerSourceOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new ValidationError('the Butler base URL is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('the Butler base URL must be http(s)');
    this.root = url.toString().replace(/\/+$/, '');
    this.host = url.host;
    this.token = opts.token;
    this.fetchImpl = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    const maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.retry = {
      maxAttempts: opts.maxAttempts ?? 6,
      backoff: { baseDelayMs: opts.baseDelayMs ?? 500, maxDelayMs, jitter: 'full' },
      // Longer than our longest backoff: the job layer waits instead of a worker.
      maxRetryAfterMs: maxDelayMs,
      sleep: opts.sleep ?? ((ms) => delay(ms).then(() => undefined)),
      onRetry: opts.onRetry && ((n) => opts.onRetry!({ ...n, upstream: 'butler' })),
      random: opts.random ?? Math.random,
    };
    this.storageRetry = { ...this.retry, onRetry: opts.onRetry && ((n) => opts.onRetry!({ ...n, upstream: 'storage' })) };
    this.readTimeoutMs = opts.readTimeoutMs ?? 120_000;
    this.userAgent = opts.userAgent ?? 'rsp-zooniverse-bridge';
    this.maxArtifactBytes = opts.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
    this.lookbackMs = opts.cursorLookbackMs ?? DEFAULT_LOOKBACK_MS;
  }

  async *listDatasets(q: DatasetQuery): AsyncIterable<DatasetRef> {
    const previous = q.after === undefined ? undefined : parseButlerCursor(q.after);
    // Taken before the first send: whatever the query can see was ingested
    // before this instant (up to clock skew, which the lookback absorbs).
    const startedAt = this.now();
    let where = '';
    let bind: Record<string, unknown> = {};
    if (previous !== undefined) {
      const since = previous - this.lookbackMs;
      if (since > LEAP_SECONDS[0][0]) {
        where = 'ingest_date > :after';
        bind = { after: { expression_type: 'datetime', nsec: utcMsToTaiNsec(since) } };
      }
    }
    const body = jsonWithBigInts({
      collections: [q.collection],
      name: [q.datasetType],
      find_first: true,
      data_id: {},
      default_data_id: {},
      where,
      bind,
      limit: null,
      with_dimension_records: false,
    });
    const refs = await retrying(`Listing collection '${q.collection}' in Butler repository '${q.repository}' (${this.host})`, () => this.queryOnce(q, body), this.retry);
    const sorted = [...refs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const low = previous ?? 0;
    const high = Math.max(startedAt, low);
    for (let i = 0; i < sorted.length; i++) {
      yield { ...sorted[i], cursor: formatButlerCursor(i === sorted.length - 1 ? high : low, sorted[i].id) };
    }
  }

  async fetchArtifact(repository: string, ref: DatasetRef): Promise<Artifact> {
    for (let refresh = 0; ; refresh++) {
      // Never reuse a URL across calls: each download starts from get_file.
      const file = await retrying(`Looking up the file of dataset ${ref.id} in Butler repository '${repository}' (${this.host})`, () => this.getFileOnce(repository, ref.id), this.retry);
      try {
        return await retrying(`Downloading dataset ${ref.id} from storage (${hostOf(file.url)})`, () => this.downloadOnce(file, ref.id), this.storageRetry);
      } catch (e) {
        if (!(e instanceof ExpiredUrl)) throw e;
        if (refresh >= MAX_URL_REFRESHES) {
          throw new UpstreamError(
            `Storage (${hostOf(file.url)}) answered that the download link for dataset ${ref.id} had expired, ${refresh + 1} times in a row, each time with a fresh link; its clock or ours may be wrong.`,
          );
        }
      }
    }
  }

  // ------------------------------------------------------------ listing

  private async queryOnce(q: DatasetQuery, body: string): Promise<Map<string, Omit<DatasetRef, 'cursor'>>> {
    const o = await this.open(this.apiUrl(q.repository, 'query/all_datasets'), { method: 'POST', body, bearer: true, butler: true });
    try {
      if (!o.res.ok) throw await this.apiFailure(o, { repository: q.repository, collection: q.collection });
      const type = o.res.headers.get('content-type') ?? '';
      if (!/json/i.test(type)) {
        throw new UpstreamRefusedError(`The Butler server (${this.host}) answered the listing with '${type.split(';')[0] || 'no content type'}' instead of JSON lines; check BUTLER_URL.`);
      }
      const refs = new Map<string, Omit<DatasetRef, 'cursor'>>();
      await readJsonLines(o, (msg) => {
        switch (msg.type) {
          case 'dataset_ref':
            if (!Array.isArray(msg.rows)) throw new UpstreamError(`The Butler server (${this.host}) sent a dataset_ref page without rows.`);
            for (const row of msg.rows) {
              const ref = this.toRef(row);
              refs.set(ref.id, ref);
            }
            break;
          case 'keep-alive':
            break;
          case 'error':
            throw this.queryError(msg.error, q, o.token);
          default:
          // Later servers may add informational line types, as keep-alive was.
        }
      });
      return refs;
    } finally {
      o.idle.abort();
    }
  }

  private toRef(row: unknown): Omit<DatasetRef, 'cursor'> {
    const r = row as { id?: unknown; run?: unknown; datasetType?: { name?: unknown }; dataId?: { dataId?: unknown } } | null;
    const id = r?.id;
    const name = r?.datasetType?.name;
    const run = r?.run;
    const raw = r?.dataId?.dataId;
    if (typeof id !== 'string' || typeof name !== 'string' || typeof run !== 'string' || typeof raw !== 'object' || raw === null) {
      throw new UpstreamError(`The Butler server (${this.host}) sent a dataset without an id, dataset type, run or data ID.`);
    }
    const dataId: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string' || typeof v === 'number') dataId[k] = v;
    return { id, datasetType: name, run, dataId };
  }

  private queryError(err: unknown, q: DatasetQuery, token?: string): UpstreamRefusedError {
    const e = (err ?? {}) as { error_type?: unknown; detail?: unknown };
    const type = typeof e.error_type === 'string' ? e.error_type : 'unknown';
    const said = clean(typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail ?? ''), token);
    const where = `Butler repository '${q.repository}'`;
    const detail = { errorType: type, repository: q.repository, collection: q.collection };
    switch (type) {
      case 'missing_collection':
        return new UpstreamRefusedError(`Collection '${q.collection}' does not exist in ${where}, or the EPO service account cannot see it. The Butler said: ${said}`, detail);
      case 'missing_dataset_type':
        return new UpstreamRefusedError(`Dataset type '${q.datasetType}' is not registered in ${where}. The Butler said: ${said}`, detail);
      default:
        return new UpstreamRefusedError(`The Butler server refused to list collection '${q.collection}' in ${where} (${type}): ${said}`, detail);
    }
  }

  // ------------------------------------------------------------ files

  private async getFileOnce(repository: string, id: string): Promise<FileInfo> {
    const o = await this.open(this.apiUrl(repository, `get_file/${encodeURIComponent(id)}`), { method: 'GET', bearer: true, butler: true });
    let body: unknown;
    try {
      if (!o.res.ok) throw await this.apiFailure(o, { repository, datasetId: id });
      body = await readJson(o, `the Butler server (${this.host})`);
    } finally {
      o.idle.abort();
    }
    const b = body as { dataset_ref?: { id?: unknown }; artifact?: unknown };
    if (b?.dataset_ref?.id !== undefined && b.dataset_ref.id !== id) {
      throw new UpstreamError(`The Butler server (${this.host}) answered a question about dataset ${id} with another dataset.`);
    }
    if (b?.artifact === null) {
      throw new UpstreamRefusedError(
        `Dataset ${id} is registered in Butler repository '${repository}' but has no file (registered but has no file): its artifact was probably removed from the datastore.`,
        { datasetId: id, repository },
      );
    }
    const infos = (b?.artifact as { file_info?: unknown } | undefined)?.file_info;
    if (!Array.isArray(infos) || infos.length === 0) {
      throw new UpstreamRefusedError(`Dataset ${id} in Butler repository '${repository}' has no file to download.`, { datasetId: id, repository });
    }
    type Raw = { url?: unknown; auth?: unknown; datastoreRecords?: { path?: unknown; component?: unknown; file_size?: unknown } };
    let chosen: Raw | undefined = infos[0] as Raw;
    if (infos.length > 1) {
      const whole = (infos as Raw[]).filter((f) => f?.datastoreRecords?.component == null);
      if (whole.length !== 1) {
        const parts = (infos as Raw[]).map((f) => String(f?.datastoreRecords?.component ?? 'none')).join(', ');
        throw new UpstreamRefusedError(
          `Dataset ${id} is stored as ${infos.length} separate component files (${parts}); the bridge needs the dataset as one file, so write it with a storage class that is not disassembled.`,
          { datasetId: id, repository },
        );
      }
      chosen = whole[0];
    }
    const url = typeof chosen?.url === 'string' ? chosen.url : '';
    if (!/^https?:\/\//i.test(url)) throw new UpstreamError(`The Butler server (${this.host}) gave no HTTP download location for dataset ${id}.`);
    const auth = chosen?.auth ?? 'none';
    if (auth !== 'none' && auth !== 'datastore' && auth !== 'gafaelfawr') {
      throw new UpstreamRefusedError(`The Butler server (${this.host}) asks for a download authentication ('${String(auth)}') this bridge does not know.`);
    }
    const rec = chosen?.datastoreRecords;
    const path = typeof rec?.path === 'string' && rec.path ? rec.path : new URL(url).pathname.replace(/^\/+/, '');
    const fileSize = typeof rec?.file_size === 'number' && rec.file_size >= 0 ? rec.file_size : undefined;
    return { url, auth, path, fileSize };
  }

  private async downloadOnce(file: FileInfo, id: string): Promise<Artifact> {
    const storage = hostOf(file.url);
    const member = file.path.includes(ZIP_MEMBER_MARK) ? file.path.slice(file.path.indexOf(ZIP_MEMBER_MARK) + ZIP_MEMBER_MARK.length) : undefined;
    // The declared size of a zip member says nothing about the archive's.
    if (file.fileSize !== undefined && member === undefined && file.fileSize > this.maxArtifactBytes) {
      throw new UpstreamRefusedError(`Dataset ${id} is ${file.fileSize} bytes, over the ${this.maxArtifactBytes}-byte limit for one artifact.`, { datasetId: id });
    }
    const bearer = file.auth !== 'none';
    if (bearer && !file.url.toLowerCase().startsWith('https:') && new URL(file.url).origin !== new URL(this.root).origin) {
      throw new UpstreamRefusedError(`The Butler server wants the EPO token sent to ${storage} over plain HTTP; refusing.`, { datasetId: id });
    }
    const o = await this.open(file.url, { method: 'GET', bearer, butler: false, what: `storage (${storage})` });
    try {
      const { res } = o;
      if (!res.ok) {
        const text = await readText(o, MAX_ERROR_BODY).catch(() => '');
        if ((res.status === 403 || res.status === 400) && file.auth === 'none' && EXPIRED_BODY.test(text)) throw new ExpiredUrl();
        const head = `Storage (${storage}) answered HTTP ${res.status} to the download of dataset ${id}`;
        const again = transientAnswer(res, STORAGE_TRANSIENT, this.now());
        if (again) throw new TransientFailure(head, again.retryAfterMs, { status: res.status });
        if (res.status === 404 || res.status === 410) throw new UpstreamRefusedError(`${head}: the file is missing from the datastore.`, { datasetId: id, status: res.status });
        throw new UpstreamRefusedError(`${head}.`, { datasetId: id, status: res.status });
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > this.maxArtifactBytes) {
        throw new UpstreamRefusedError(`Dataset ${id} is ${declared} bytes, over the ${this.maxArtifactBytes}-byte limit for one artifact.`, { datasetId: id });
      }
      let bytes = await readCapped(o, this.maxArtifactBytes, (n) =>
        new UpstreamRefusedError(`Dataset ${id} is over the ${this.maxArtifactBytes}-byte limit for one artifact (stopped after ${n} bytes).`, { datasetId: id }),
      );
      if (member !== undefined) {
        const label = `dataset ${id}`;
        const src = bytesAccess(bytes);
        const entry = (await readZipMembers(src, label)).get(member);
        if (!entry) throw new UpstreamRefusedError(`Dataset ${id} is stored in a zip archive that has no member '${member}'.`, { datasetId: id });
        bytes = await readZipMember(src, entry, label, this.maxArtifactBytes);
      } else if (file.fileSize !== undefined && bytes.length !== file.fileSize) {
        throw new TransientFailure(`Storage (${storage}) sent ${bytes.length} bytes for dataset ${id}; the Butler records ${file.fileSize}`, undefined, { kind: 'cut_stream' });
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      return { bytes, path: file.path, size: bytes.length, sha256 };
    } finally {
      o.idle.abort();
    }
  }

  // ------------------------------------------------------------ HTTP

  private apiUrl(repository: string, path: string): string {
    return `${this.root}/api/butler/repo/${encodeURIComponent(repository)}/v1/${path}`;
  }

  private async tokenValue(): Promise<string> {
    let t: string;
    try {
      t = await this.token();
    } catch {
      throw new UpstreamError('The EPO service account token could not be obtained.');
    }
    if (!t) throw new UpstreamRefusedError('No token is configured for the EPO service account (BUTLER_TOKEN), so the Butler server cannot be asked.');
    return t;
  }

  private async open(url: string, init: { method: 'GET' | 'POST'; body?: string; bearer: boolean; butler: boolean; what?: string }): Promise<Opened> {
    const token = init.bearer ? await this.tokenValue() : undefined;
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    let requestId: string | undefined;
    if (init.butler) {
      requestId = randomUUID();
      headers['x-butler-client-request-id'] = requestId;
      headers.accept = 'application/json, application/jsonlines';
    }
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const idle = new IdleTimer(this.readTimeoutMs);
    try {
      const res = await this.fetchImpl(url, {
        method: init.method,
        headers,
        body: init.body,
        signal: idle.signal,
        // The API never redirects; storage may (and fetch drops Authorization across origins).
        redirect: init.butler ? 'manual' : 'follow',
      });
      idle.reset();
      return { res, idle, token, requestId };
    } catch (e) {
      idle.clear();
      const who = init.what ?? `the Butler server (${this.host})`;
      if (idle.timedOut) throw new TransientFailure(`${who} did not answer within ${this.readTimeoutMs / 1000} s`, undefined, { kind: 'timeout' });
      throw new TransientFailure(`the request to ${who} failed before any answer (${networkErrorCode(e)})`, undefined, { kind: networkErrorCode(e) });
    }
  }

  /** The error for a non-2xx answer of the Butler API. */
  private async apiFailure(o: Opened, ctx: { repository: string; collection?: string; datasetId?: string }): Promise<Error> {
    const { res } = o;
    const status = res.status;
    const text = await readText(o, MAX_ERROR_BODY).catch(() => '');
    let json: { detail?: unknown; error_type?: unknown } | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const said = clean(describeDetail(json?.detail) ?? text.trim().slice(0, 300), o.token);
    const suffix = said ? `: ${said}` : '';
    const detail = { status, requestId: o.requestId, repository: ctx.repository };
    const repo = `Butler repository '${ctx.repository}' (${this.host})`;
    const again = transientAnswer(res, API_TRANSIENT, this.now());
    if (again) return new TransientFailure(`HTTP ${status}${suffix}`, again.retryAfterMs, detail);
    if (status === 401) return new UpstreamRefusedError(`${repo} rejected the EPO service account's token (HTTP 401); it may have expired or been revoked${suffix}`, detail);
    if (status === 403) return new UpstreamRefusedError(`${repo} refused the EPO service account (HTTP 403)${suffix}`, detail);
    if (status === 404) return new UpstreamRefusedError(`${repo} was not found (HTTP 404); check the repository label and BUTLER_URL${suffix}`, detail);
    if (status >= 300 && status < 400) return new UpstreamRefusedError(`${repo} answered with a redirect (HTTP ${status}); check BUTLER_URL.`, detail);
    if (status === 422 && typeof json?.error_type === 'string') {
      const d = { ...detail, errorType: json.error_type };
      if (json.error_type === 'dataset_not_found') {
        return new UpstreamRefusedError(`Dataset ${ctx.datasetId ?? ''} is not in ${repo}; it may have been deleted${suffix}`, d);
      }
      if (json.error_type === 'missing_collection' && ctx.collection) {
        return new UpstreamRefusedError(`Collection '${ctx.collection}' does not exist in ${repo}${suffix}`, d);
      }
      return new UpstreamRefusedError(`${repo} refused the request (${json.error_type})${suffix}`, d);
    }
    if (status === 422) return new UpstreamRefusedError(`${repo} rejected the bridge's request as malformed (HTTP 422)${suffix}. This is a bug in the bridge, not in the collection.`, detail);
    return new UpstreamRefusedError(`${repo} answered HTTP ${status}${suffix}`, detail);
  }
}

// ------------------------------------------------------------ helpers

function jsonWithBigInts(value: unknown): string {
  const mark = '\u0000bigint:';
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${mark}${v}` : v)).replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unknown host';
  }
}

/** Server text may quote what we sent; keep the token and URL signatures out of messages. */
function clean(s: string, token?: string): string {
  let out = s;
  if (token && token.length >= 4) out = out.split(token).join('[redacted]');
  out = out.replace(/(https?:\/\/[^\s?#"'<>]+)[?#][^\s"'<>]*/gi, '$1?[redacted]');
  return out.length > 500 ? `${out.slice(0, 500)}...` : out;
}

function describeDetail(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    // FastAPI validation errors: [{loc: [...], msg: "..."}]
    return detail
      .slice(0, 3)
      .map((d) => {
        const x = d as { loc?: unknown; msg?: unknown };
        const loc = Array.isArray(x?.loc) ? x.loc.join('.') : '';
        return `${loc}${loc ? ': ' : ''}${typeof x?.msg === 'string' ? x.msg : JSON.stringify(d)}`;
      })
      .join('; ');
  }
  return undefined;
}

async function* chunks(o: Opened, what: string): AsyncGenerator<Uint8Array> {
  if (!o.res.body) return;
  const reader = o.res.body.getReader();
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        if (o.idle.timedOut) throw new TransientFailure(`${what} sent nothing for ${Math.round(o.idle.ms / 1000)} s`, undefined, { kind: 'cut_stream' });
        throw new TransientFailure(`the connection to ${what} broke before the answer was complete (${networkErrorCode(e)})`, undefined, { kind: 'cut_stream' });
      }
      if (r.done) return;
      o.idle.reset();
      yield r.value;
    }
  } finally {
    reader.releaseLock();
  }
}

async function readCapped(o: Opened, cap: number, tooBig: (n: number) => Error, what = 'storage'): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of chunks(o, what)) {
    total += c.length;
    if (total > cap) throw tooBig(total);
    parts.push(c);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function readText(o: Opened, cap: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of chunks(o, 'the server')) {
    parts.push(c);
    total += c.length;
    if (total >= cap) break;
  }
  return Buffer.concat(parts).subarray(0, cap).toString('utf8');
}

async function readJson(o: Opened, what: string): Promise<unknown> {
  const bytes = await readCapped(o, MAX_JSON_BYTES, () => new UpstreamError(`${what} sent an answer larger than ${MAX_JSON_BYTES} bytes.`), what);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw new TransientFailure(`${what} sent an answer that is not JSON`);
  }
}

/** Calls `onLine` for each JSON line as it arrives; the body is never held whole. */
async function readJsonLines(o: Opened, onLine: (msg: { type?: unknown; rows?: unknown; error?: unknown }) => void): Promise<void> {
  const what = 'the Butler server';
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  let scanFrom = 0;
  const handle = (line: string) => {
    const text = line.trim();
    if (!text) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      throw new TransientFailure(`${what} sent a result line that is not JSON`);
    }
    if (typeof msg !== 'object' || msg === null) throw new TransientFailure(`${what} sent a result line that is not a JSON object`);
    onLine(msg as { type?: unknown });
  };
  for await (const c of chunks(o, what)) {
    buf += decoder.decode(c, { stream: true });
    let nl = buf.indexOf('\n', scanFrom);
    while (nl >= 0) {
      handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
    scanFrom = buf.length;
    if (buf.length > MAX_LINE_BYTES) throw new UpstreamError(`${what} sent a result line longer than ${MAX_LINE_BYTES} bytes.`);
  }
  buf += decoder.decode();
  // Every line the server writes ends with '\n': anything left is a line cut off.
  if (buf.trim()) throw new TransientFailure(`${what} ended the listing in the middle of a line (the stream was truncated)`, undefined, { kind: 'cut_stream' });
}
