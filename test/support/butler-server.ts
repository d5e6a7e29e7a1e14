import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateRawSync } from 'node:zlib';

import { crc32 } from '../../src/imaging/png/crc32.js';
import { readBody } from '../../src/demo/read-body.js';

/*
 * An in-process Butler server that speaks the wire contract of
 * shared/reference/butler-api.md, strictly: clients that pass against it send
 * what the real server needs, and meet what the real server does (JSON-lines
 * streams with keep-alives and in-band errors, 422 shapes, 503/429 with
 * retry-after, presigned URLs that expire with S3's XML error), plus faults
 * on demand.
 */

export interface SeedDataset {
  id: string;
  datasetType: string;
  run: string;
  dataId: Record<string, string | number>;
  ingestDate: Date | string;
  /** null: registered in the registry but without a file ("artifact": null). */
  bytes: Uint8Array | null;
  /** Datastore path; default <run>/<datasetType>/<tract>/<patch>/<band>/<name>.fits */
  path?: string;
  /** file_size in datastoreRecords; default bytes.length, -1 = unknown. */
  fileSize?: number;
  /** A disassembled composite: one file per component (bytes is then ignored). */
  components?: { component: string; bytes: Uint8Array }[];
}

export type Route = 'butler.json' | 'all_datasets' | 'get_file' | 'storage' | 'other';

export interface RecordedRequest {
  route: Route;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface ButlerDoubleOptions {
  /** Listen here (e.g. to come back up where a client already points); default: any free port. */
  port?: number;
  repository?: string;
  /** bearer token -> user name (what Gafaelfawr would put in X-Auth-Request-User). */
  tokens?: Record<string, string>;
  /** Users in the repository's authorized groups. */
  authorizedUsers?: string[];
  pageSize?: number;
  /** Wait before each page (the database being slow); keep-alives flow meanwhile. */
  pageDelayMs?: number;
  /** Keep-alive interval while waiting (the real server: 15 s). 0 = never. */
  keepAliveMs?: number;
  /** Presigned URL lifetime (the real server: 1 hour). */
  urlTtlMs?: number;
  /** 'none': presigned URLs (RSP); 'datastore': plain URLs that need the bearer (CADC). */
  fileAuth?: 'none' | 'datastore';
  /** Serve files without Content-Length (chunked). */
  chunkedDownloads?: boolean;
}

export const DOUBLE_TOKEN = 'epo-service-token-s3cr3t-0123456789';
export const DOUBLE_USER = 'bot-epo-zooniverse';
export const OTHER_TOKEN = 'someone-elses-token-9876543210';

type Fault = { route?: Route; kind: 'status'; status: number; retryAfter?: number; detail?: string } | { route?: Route; kind: 'reset' };

interface Presigned {
  datasetId: string;
  component: string | null;
  issuedAt: number;
  expired: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUIRED_QUERY_FIELDS: [string, (v: unknown) => boolean, string][] = [
  ['collections', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), 'list_type'],
  ['name', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), 'list_type'],
  ['find_first', (v) => typeof v === 'boolean', 'bool_type'],
  ['data_id', (v) => isObject(v), 'dict_type'],
  ['default_data_id', (v) => isObject(v), 'dict_type'],
  ['where', (v) => typeof v === 'string', 'string_type'],
  ['bind', (v) => isObject(v), 'dict_type'],
  ['limit', (v) => v === null || (typeof v === 'number' && Number.isInteger(v)), 'int_type'],
  ['with_dimension_records', (v) => typeof v === 'boolean', 'bool_type'],
];
/** Integers that do not fit a double arrive as bare JSON integers; keep them exact. */
const BIG_INT_FIELDS = /("(?:nsec|begin_nsec|end_nsec)"\s*:\s*)(-?\d+)(?=\s*[,}])/g;
const INT_MARK = '@@int:';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The double's own UTC -> TAI nsec, independent of the client's (valid from 2017). */
export function taiNsecOf(date: Date): bigint {
  return (BigInt(date.getTime()) + 37_000n) * 1_000_000n;
}

export class ButlerServerDouble {
  readonly url: string;
  readonly repository: string;
  readonly requests: RecordedRequest[] = [];
  readonly counts: Record<Route, number> = { 'butler.json': 0, all_datasets: 0, get_file: 0, storage: 0, other: 0 };
  keepAlivesSent = 0;
  pageSize: number;
  pageDelayMs: number;
  keepAliveMs: number;
  urlTtlMs: number;
  fileAuth: 'none' | 'datastore';
  chunkedDownloads: boolean;
  tokens: Record<string, string>;
  authorizedUsers: Set<string>;

  private readonly datasets = new Map<string, SeedDataset>();
  private readonly runs = new Set<string>();
  private readonly datasetTypes = new Set<string>();
  private readonly presigned = new Map<string, Presigned>();
  private readonly faults: Fault[] = [];
  private truncations: { cleanEnd: boolean }[] = [];
  private expireNext = 0;
  private readonly streamsByUser = new Map<string, number>();
  private streams = 0;

  private constructor(
    private readonly server: Server,
    port: number,
    opts: ButlerDoubleOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.repository = opts.repository ?? 'dp1';
    this.tokens = opts.tokens ?? { [DOUBLE_TOKEN]: DOUBLE_USER, [OTHER_TOKEN]: 'someone-else' };
    this.authorizedUsers = new Set(opts.authorizedUsers ?? [DOUBLE_USER]);
    this.pageSize = opts.pageSize ?? 2;
    this.pageDelayMs = opts.pageDelayMs ?? 0;
    this.keepAliveMs = opts.keepAliveMs ?? 50;
    this.urlTtlMs = opts.urlTtlMs ?? 3_600_000;
    this.fileAuth = opts.fileAuth ?? 'none';
    this.chunkedDownloads = opts.chunkedDownloads ?? false;
  }

  static async start(opts: ButlerDoubleOptions = {}): Promise<ButlerServerDouble> {
    let self: ButlerServerDouble | undefined;
    const server = createServer((req, res) => {
      void self!.handle(req, res).catch((e) => {
        if (!res.headersSent) json(res, 500, { detail: String(e) });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
    self = new ButlerServerDouble(server, (server.address() as AddressInfo).port, opts);
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------ seeding

  seed(...datasets: SeedDataset[]): void {
    for (const d of datasets) {
      this.datasets.set(d.id, d);
      this.runs.add(d.run);
      this.datasetTypes.add(d.datasetType);
    }
  }

  addCollection(run: string): void {
    this.runs.add(run);
  }

  addDatasetType(name: string): void {
    this.datasetTypes.add(name);
  }

  // ------------------------------------------------------------ faults

  /** The next n requests (to `route`, or any) fail with this status before reaching the handler. */
  failNext(n: number, f: { status: number; retryAfter?: number; detail?: string; route?: Route }): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'status', ...f });
  }

  /** The next request (to `route`, or any) has its connection destroyed without an answer. */
  resetNextConnection(opts: { route?: Route; times?: number } = {}): void {
    for (let i = 0; i < (opts.times ?? 1); i++) this.faults.push({ kind: 'reset', route: opts.route });
  }

  /**
   * The next listing streams its first page, then half a line, then dies:
   * the socket is destroyed (no terminating chunk), or with cleanEnd the
   * body is ended properly but mid-line.
   */
  truncateNextStream(opts: { cleanEnd?: boolean; times?: number } = {}): void {
    for (let i = 0; i < (opts.times ?? 1); i++) this.truncations.push({ cleanEnd: opts.cleanEnd ?? false });
  }

  /** Every presigned URL handed out so far is expired. */
  expireUrls(): void {
    for (const p of this.presigned.values()) p.expired = true;
  }

  /** The next n presigned URLs are born expired (as if the download started an hour late). */
  expireNextUrls(n: number): void {
    this.expireNext += n;
  }

  count(route: Route): number {
    return this.counts[route];
  }

  // ------------------------------------------------------------ serving

  private base(): string {
    return `/api/butler/repo/${encodeURIComponent(this.repository)}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const m = /^\/api\/butler\/repo\/([^/]+)\/(.*)$/.exec(path);
    let route: Route = 'other';
    if (path.startsWith('/storage/')) route = 'storage';
    else if (m && m[2] === 'butler.json') route = 'butler.json';
    else if (m && m[2] === 'v1/query/all_datasets') route = 'all_datasets';
    else if (m && m[2].startsWith('v1/get_file/')) route = 'get_file';
    const body = await readBody(req);
    this.requests.push({ route, method: req.method ?? '', path, headers: req.headers, body });
    this.counts[route]++;

    const fi = this.faults.findIndex((f) => !f.route || f.route === route);
    if (fi >= 0) {
      const [f] = this.faults.splice(fi, 1);
      if (f.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (f.retryAfter !== undefined) headers['retry-after'] = String(f.retryAfter);
      const detail = f.detail ?? (f.status === 503 ? 'The Butler Server is currently overloaded with requests.' : f.status === 429 ? 'User has too many queries running already.' : 'Internal Server Error');
      json(res, f.status, { detail }, headers);
      return;
    }

    if (route === 'storage') return this.storage(req, res, url);
    if (!m) return json(res, 404, { detail: 'Not Found' });
    if (decodeURIComponent(m[1]) !== this.repository) return json(res, 404, { detail: `Repository '${decodeURIComponent(m[1])}' not found` });
    if (route === 'butler.json') {
      if (req.method !== 'GET') return json(res, 405, { detail: 'Method Not Allowed' });
      return json(res, 200, { cls: 'lsst.daf.butler.remote_butler.RemoteButler', remote_butler: { url: '<butlerRoot>', authentication: 'rubin_science_platform' } });
    }
    const user = this.authenticate(req, res);
    if (!user) return;
    if (route === 'all_datasets') {
      if (req.method !== 'POST') return json(res, 405, { detail: 'Method Not Allowed' });
      return this.queryAllDatasets(req, res, user, body);
    }
    if (route === 'get_file') {
      if (req.method !== 'GET') return json(res, 405, { detail: 'Method Not Allowed' });
      return this.getFile(res, decodeURIComponent(m[2].slice('v1/get_file/'.length)));
    }
    return json(res, 404, { detail: 'Not Found' });
  }

  /** Gafaelfawr's ingress, then the server's repository check. */
  private authenticate(req: IncomingMessage, res: ServerResponse): string | undefined {
    const auth = req.headers.authorization;
    if (!auth) {
      json(res, 403, { detail: 'Required X-Auth-Request-User header was not provided' });
      return undefined;
    }
    const t = /^Bearer (\S+)$/.exec(auth);
    const user = t ? this.tokens[t[1]] : undefined;
    if (!user) {
      json(res, 401, { detail: 'Invalid token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return undefined;
    }
    if (!this.authorizedUsers.has(user)) {
      json(res, 403, { detail: `User ${user} does not have permission to access Butler repository '${this.repository}'` });
      return undefined;
    }
    return user;
  }

  private async queryAllDatasets(req: IncomingMessage, res: ServerResponse, user: string, raw: string): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.replace(BIG_INT_FIELDS, `$1"${INT_MARK}$2"`));
    } catch {
      return json(res, 422, { detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {} }] });
    }
    if (!isObject(parsed)) return json(res, 422, { detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary', input: parsed }] });
    const errors: unknown[] = [];
    for (const [field, ok, type] of REQUIRED_QUERY_FIELDS) {
      if (!(field in parsed)) errors.push({ type: 'missing', loc: ['body', field], msg: 'Field required', input: parsed });
      else if (!ok(parsed[field])) errors.push({ type, loc: ['body', field], msg: `Input should be a valid ${type.replace('_type', '')}`, input: parsed[field] });
    }
    const bind = new Map<string, { expression_type: string; nsec?: bigint }>();
    if (isObject(parsed.bind)) {
      for (const [k, v] of Object.entries(parsed.bind)) {
        const lit = checkLiteral(v);
        if (typeof lit === 'string') errors.push({ type: 'union_tag_invalid', loc: ['body', 'bind', k], msg: lit, input: v });
        else bind.set(k, lit);
      }
    }
    if (errors.length) return json(res, 422, { detail: errors });
    const q = parsed as { collections: string[]; name: string[]; where: string; limit: number | null };

    // Streaming limits are checked before the stream starts (503 / 429 with retry-after).
    if (this.streams >= 25) return json(res, 503, { detail: 'The Butler Server is currently overloaded with requests.' }, { 'retry-after': '5' });
    if ((this.streamsByUser.get(user) ?? 0) >= 2) {
      return json(res, 429, { detail: `User ${user} has too many queries running already. Wait for your existing queries to complete, then try again.` }, { 'retry-after': '5' });
    }
    this.streams++;
    this.streamsByUser.set(user, (this.streamsByUser.get(user) ?? 0) + 1);
    res.on('close', () => {
      this.streams--;
      this.streamsByUser.set(user, (this.streamsByUser.get(user) ?? 1) - 1);
    });

    res.writeHead(200, { 'content-type': 'application/jsonlines', 'x-accel-buffering': 'no' });
    const truncation = this.truncations.shift();
    const send = (obj: unknown) => {
      if (!res.destroyed) res.write(JSON.stringify(obj) + '\n');
    };
    const queryError = (error_type: string, detail: string) => {
      send({ type: 'error', error: { error_type, detail } });
      res.end();
    };
    for (const c of q.collections) if (!this.runs.has(c)) return queryError('missing_collection', `No collection with name '${c}' found.`);
    for (const n of q.name) if (!this.datasetTypes.has(n)) return queryError('missing_dataset_type', `Dataset type with name '${n}' not found.`);

    let after: bigint | undefined;
    const where = q.where.trim();
    if (where) {
      const w = /^ingest_date\s*>\s*:([A-Za-z_]\w*)$/.exec(where);
      if (!w) return queryError('invalid_query', `Failed to parse expression '${where}'.`);
      const lit = bind.get(w[1]);
      if (!lit) return queryError('invalid_query', `Name '${w[1]}' is not in the bind map.`);
      if (lit.expression_type !== 'datetime') return queryError('invalid_query', `'ingest_date' cannot be compared with a ${lit.expression_type} value.`);
      after = lit.nsec;
    }
    // The server's order is its own business; reversed seeding order makes that visible.
    let rows = [...this.datasets.values()]
      .filter((d) => q.collections.includes(d.run) && q.name.includes(d.datasetType))
      .filter((d) => after === undefined || taiNsecOf(new Date(d.ingestDate)) > after)
      .reverse();
    if (q.limit !== null) rows = rows.slice(0, q.limit);

    const pages: SeedDataset[][] = [];
    for (let i = 0; i < rows.length; i += this.pageSize) pages.push(rows.slice(i, i + this.pageSize));
    for (let p = 0; p < pages.length; p++) {
      await this.waitWithKeepAlives(res, this.pageDelayMs);
      if (res.destroyed) return;
      const line = JSON.stringify({ type: 'dataset_ref', rows: pages[p].map(serializeRef) }) + '\n';
      if (truncation && p >= 1) {
        res.write(line.slice(0, Math.floor(line.length / 2)));
        await sleep(20);
        if (truncation.cleanEnd) res.end();
        else req.socket.destroy();
        return;
      }
      res.write(line);
    }
    if (truncation) {
      // Fewer than two pages: cut the stream after what was sent.
      res.write('{"type":"dataset_ref","rows":[{"id":"');
      await sleep(20);
      if (truncation.cleanEnd) res.end();
      else req.socket.destroy();
      return;
    }
    res.end();
  }

  private async waitWithKeepAlives(res: ServerResponse, ms: number): Promise<void> {
    let waited = 0;
    if (this.keepAliveMs > 0) {
      while (waited + this.keepAliveMs <= ms) {
        await sleep(this.keepAliveMs);
        waited += this.keepAliveMs;
        if (res.destroyed) return;
        res.write(JSON.stringify({ type: 'keep-alive' }) + '\n');
        this.keepAlivesSent++;
      }
    }
    if (ms > waited) await sleep(ms - waited);
  }

  private getFile(res: ServerResponse, id: string): void {
    if (!UUID_RE.test(id)) {
      return json(res, 422, {
        detail: [{ type: 'uuid_parsing', loc: ['path', 'dataset_id'], msg: 'Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]', input: id }],
      });
    }
    const d = this.datasets.get(id.toLowerCase());
    if (!d) return json(res, 422, { error_type: 'dataset_not_found', detail: `Dataset ID ${id} not found` });
    if (d.bytes === null && !d.components) return json(res, 200, { dataset_ref: serializeRef(d), artifact: null });
    const files = d.components ? d.components.map((c) => ({ component: c.component, bytes: c.bytes })) : [{ component: null, bytes: d.bytes! }];
    const file_info = files.map((f) => {
      const path = f.component ? `${datastorePath(d).replace(/\.fits$/, '')}.${f.component}.fits` : datastorePath(d);
      return {
        url: this.fileUrl(d, f.component, path),
        auth: this.fileAuth,
        datastoreRecords: {
          formatter: 'lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter',
          path,
          storage_class: 'Stamps',
          component: f.component,
          checksum: null,
          file_size: f.component ? f.bytes.length : (d.fileSize ?? f.bytes.length),
        },
      };
    });
    json(res, 200, { dataset_ref: serializeRef(d), artifact: { datastore_type: 'file', file_info } });
  }

  private fileUrl(d: SeedDataset, component: string | null, path: string): string {
    const key = path.split('#')[0].split('/').map(encodeURIComponent).join('/');
    if (this.fileAuth === 'datastore') return `${this.url}/storage/bucket/${key}?dataset=${d.id}&component=${component ?? ''}`;
    const sig = randomBytes(32).toString('hex');
    const expired = this.expireNext > 0;
    if (expired) this.expireNext--;
    this.presigned.set(sig, { datasetId: d.id, component, issuedAt: Date.now(), expired });
    const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    return (
      `${this.url}/storage/bucket/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request` +
      `&X-Amz-Date=${now}&X-Amz-Expires=${Math.round(this.urlTtlMs / 1000)}&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`
    );
  }

  private storage(req: IncomingMessage, res: ServerResponse, url: URL): void {
    let datasetId: string;
    let component: string | null;
    if (this.fileAuth === 'datastore') {
      const t = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      if (!t || !this.tokens[t[1]]) return xml(res, 401, 'Unauthorized', 'A valid bearer token is required.');
      datasetId = url.searchParams.get('dataset') ?? '';
      component = url.searchParams.get('component') || null;
    } else {
      const p = this.presigned.get(url.searchParams.get('X-Amz-Signature') ?? '');
      if (!p) return xml(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      if (p.expired || Date.now() - p.issuedAt > this.urlTtlMs) return xml(res, 403, 'AccessDenied', 'Request has expired');
      datasetId = p.datasetId;
      component = p.component;
    }
    const d = this.datasets.get(datasetId);
    const bytes = d?.components ? d.components.find((c) => c.component === component)?.bytes : (d?.bytes ?? undefined);
    if (!bytes) return xml(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (!this.chunkedDownloads) headers['content-length'] = bytes.length;
    res.writeHead(200, headers);
    const step = 64 * 1024;
    for (let i = 0; i < bytes.length; i += step) res.write(bytes.subarray(i, i + step));
    res.end();
  }
}

function serializeRef(d: SeedDataset): unknown {
  return {
    id: d.id,
    datasetType: { name: d.datasetType, storageClass: 'Stamps', dimensions: ['band', 'skymap', 'tract', 'patch'], parentStorageClass: null, isCalibration: false },
    dataId: { dataId: d.dataId, records: null },
    run: d.run,
    component: null,
  };
}

function datastorePath(d: SeedDataset): string {
  if (d.path) return d.path;
  const { band = 'x', tract = 0, patch = 0 } = d.dataId;
  return `${d.run}/${d.datasetType}/${tract}/${patch}/${band}/${d.datasetType}_${band}_${tract}_${patch}_${d.run.replace(/\//g, '_')}.fits`;
}

/** A bind value must be one of daf_butler's tagged ColumnLiterals; returns the error text otherwise. */
function checkLiteral(v: unknown): { expression_type: string; nsec?: bigint } | string {
  if (!isObject(v) || typeof v.expression_type !== 'string') return 'Unable to extract tag using discriminator expression_type';
  const isInt = (x: unknown) => typeof x === 'string' && x.startsWith(INT_MARK);
  switch (v.expression_type) {
    case 'int':
      return typeof v.value === 'number' && Number.isInteger(v.value) ? { expression_type: 'int' } : 'int literal needs an integer value';
    case 'string':
      return typeof v.value === 'string' ? { expression_type: 'string' } : 'string literal needs a string value';
    case 'float':
      return typeof v.value === 'number' ? { expression_type: 'float' } : 'float literal needs a number value';
    case 'uuid':
      return typeof v.value === 'string' && UUID_RE.test(v.value) ? { expression_type: 'uuid' } : 'uuid literal needs a UUID value';
    case 'datetime':
      // Exactly {"expression_type":"datetime","nsec":<JSON integer>}: TAI ns since 1970.
      if (!isInt(v.nsec) || Object.keys(v).some((k) => k !== 'expression_type' && k !== 'nsec')) return 'datetime literal needs an integer nsec (TAI nanoseconds since 1970)';
      return { expression_type: 'datetime', nsec: BigInt((v.nsec as string).slice(INT_MARK.length)) };
    case 'timespan':
      return isInt(v.begin_nsec) && isInt(v.end_nsec) ? { expression_type: 'timespan' } : 'timespan literal needs begin_nsec and end_nsec';
    default:
      return `Input tag '${v.expression_type}' found using 'expression_type' does not match any of the expected tags`;
  }
}


function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function xml(res: ServerResponse, status: number, code: string, message: string): void {
  const text =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId><HostId>double</HostId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A minimal ZIP writer for fixtures (stored or deflated members, no zip64). */
export function makeZip(entries: { name: string; data: Uint8Array; deflate?: boolean }[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
}
