import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { z } from 'zod';
import { rng } from '../../imaging/synthetic.js';
import { PanoptesResults, RESULTS_ROUTES, isResultsRoute, type PanoptesResultsOptions, type ResultsRoute, type SeedClassification } from './panoptes-results-routes.js';
import { readBody } from '../read-body.js';

/*
 * The demo Panoptes server: `bridge demo` uploads to it and pulls from it
 * without credentials, and the tests hold the bridge's Panoptes clients to
 * the contract with it. Longer than 400 lines because it is one server
 * whose routes share one store of projects, sets, subjects and tokens;
 * the results routes live apart in panoptes-results-*.ts.
 *
 * An in-process Panoptes (Zooniverse API) that holds clients to the contract
 * of shared/reference/zooniverse.md, strictly, and fails on demand the way the
 * real one does under load: 504 after the subject was committed, connections
 * dropped before or after the commit, 429/503 with Retry-After, 502, tokens
 * dying mid-run, 409 on link.
 *
 * Where the reference is silent the behaviour follows the Panoptes source
 * (zooniverse/panoptes, 2026):
 * - listings filter on id, project_id, subject_set_id (subjects; comma lists)
 *   and display_name / metadata.KEY (subject sets); any other parameter,
 *   external_id included, is ignored, not refused;
 * - meta.<type>.*_href are relative to /api ("/subjects?page=2...");
 * - a link request is refused (422) unless every id, counted with repeats,
 *   is an existing subject, so a repeated id is refused too;
 * - an import downloads and counts the manifest while the POST waits (over
 *   the limit: 403, unreachable: 422), then imports in the background; its
 *   resource has imported_count / manifest_count / failed_count / progress
 *   and no state; imported_count moves in steps; imported subjects count
 *   towards uploaded_subjects_count but the limit is not checked;
 * - a location's mime type in a manifest comes from the extension of the
 *   whole cell, so a URL with a query string fails its row.
 * Deliberate differences: DELETE .../links/subjects/ids needs If-Match here
 * (the reference says every DELETE does; the source does not check it);
 * uploaded_subjects_count is not cached; set_member_subjects_count is exact
 * at once; a deleted subject disappears from every listing and set; a
 * manifest row without external_id fails instead of matching other such rows.
 *
 * The results routes (classifications, exports, retirement, subject workflow
 * statuses) live in panoptes-results-routes.ts: `server.results`.
 */

export type PanoptesRoute =
  | 'token'
  | 'me'
  | 'getProject'
  | 'createSubjectSet'
  | 'listSubjectSets'
  | 'getSubjectSet'
  | 'updateSubjectSet'
  | 'linkSubjects'
  | 'unlinkSubjects'
  | 'createSubject'
  | 'listSubjects'
  | 'getSubject'
  | 'deleteSubject'
  | 'createImport'
  | 'listImports'
  | 'getImport'
  /** Not HTTP: the background import worker (for 'abort-import'). */
  | 'importWorker'
  | ResultsRoute
  | 'other';

export type FaultKind =
  /** Answer `status` (with `retryAfter`, `message`) before the action runs: nothing is committed. */
  | 'status'
  /** Destroy the connection before the action runs. */
  | 'reset'
  /** Run the action, then answer 504: the gateway gave up after Panoptes committed. */
  | 'commit-then-504'
  /** Run the action, then answer `status` instead of its result. */
  | 'commit-then-status'
  /** Run the action, then destroy the connection without answering. */
  | 'commit-then-reset'
  /** Run the action, then hold the answer for `ms` (for client timeouts). */
  | 'commit-then-stall'
  /** The token the request carries dies now: 401, as if it expired mid-run. */
  | 'expire-token'
  /** Route importWorker: the worker dies after `afterRows` rows and the import never completes. */
  | 'abort-import'
  /** Route importWorker: `failRows` rows from row `afterRows` on fail (counted in failed_count); the import completes. */
  | 'fail-rows'
  /** Run the action, then drop `fields` from every resource in the answer (fields a client should not need). */
  | 'omit-fields'
  /** Run the action, then answer 200 with `body` instead (a response the client cannot use). */
  | 'replace-body'
  /** Run the action, then add `extra` to every resource in the answer (fields a client does not know, or must drop). */
  | 'add-fields'
  /** A file download: send the first half of the file, with a Content-Length that says so (a file cut short in storage). */
  | 'truncate-body'
  /** A file download: announce the whole file, send half, then drop the connection. */
  | 'cut-body';

/**
 * One rule of fault injection: push it on `server.faults`. The first rule that
 * matches a request (route, not exhausted, past `skip`, and the seeded draw
 * when `rate` is set) fires; `fired` counts how often.
 */
export interface Fault {
  route?: PanoptesRoute | PanoptesRoute[];
  kind: FaultKind;
  status?: number;
  /** Retry-After header value: seconds, or an HTTP date. */
  retryAfter?: number | string;
  message?: string;
  ms?: number;
  afterRows?: number;
  /** fail-rows: how many rows fail. */
  failRows?: number;
  /** omit-fields: the resource fields to drop, e.g. ['created_at', 'updated_at']. */
  fields?: string[];
  /** replace-body: what to answer with. */
  body?: unknown;
  /** add-fields: the fields to add to each resource. */
  extra?: Record<string, unknown>;
  /** How many times it fires; default 1, or unlimited when `rate` is set. */
  times?: number;
  /** Let this many matching requests through before firing. */
  skip?: number;
  /** Fire on this fraction of matching requests, drawn from a RNG seeded with `seed`. */
  rate?: number;
  seed?: number;
  /** Set by the server. */
  fired?: number;
}

export interface LoggedRequest {
  seq: number;
  route: PanoptesRoute;
  method: string;
  /** Path with query, as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** Undefined until answered; 0 when the connection was destroyed. */
  status?: number;
  fault?: FaultKind;
  at: number;
}

export interface DoubleSubject {
  id: string;
  projectId: string;
  externalId: string | null;
  locations: Record<string, string>[];
  metadata: Record<string, unknown>;
  uploaderId: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  deleted: boolean;
}

export interface DoubleSubjectSet {
  id: string;
  projectId: string;
  displayName: string;
  metadata: Record<string, unknown>;
  /** Subject ids in the order they were linked. */
  members: Set<string>;
  /** Workflow id -> fraction of the set's subjects retired there (Panoptes' SubjectSetCompletenessWorker). */
  completeness: Record<string, number>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface DoubleImport {
  id: string;
  subjectSetId: string;
  sourceUrl: string;
  manifestCount: number;
  /** As Panoptes shows it: updated in steps. */
  importedCount: number;
  /** Rows actually processed. */
  processed: number;
  failedCount: number;
  failedUuids: string[];
  /** Not on the wire (Panoptes has no state field); for tests. */
  state: 'pending' | 'running' | 'completed' | 'failed';
  failures: { externalId: string; message: string }[];
  createdAt: string;
  updatedAt: string;
  done: Promise<void>;
}

export interface DoubleProject {
  id: string;
  displayName: string;
  slug?: string;
}

export interface PanoptesDoubleOptions {
  clientId?: string;
  clientSecret?: string;
  /** expires_in of issued tokens (seconds). Default 7200. */
  tokenTtlSeconds?: number;
  /** A token dies after this many API requests (simulates expiry mid-run). */
  tokenMaxUses?: number;
  user?: Partial<{ id: string; login: string; subjectLimit: number; uploadedSubjectsCount: number }>;
  projects?: DoubleProject[];
  /** Default page_size of listings (Panoptes: 20). */
  defaultPageSize?: number;
  /** Manifest rows allowed per import (Panoptes: 10,000 for non-admins). */
  importRowLimit?: number;
  /** Delay before an import starts and between its rows, to watch the lifecycle. */
  importStartDelayMs?: number;
  importRowDelayMs?: number;
  /** The results routes: their clock, export lifecycle and retirement delay. */
  results?: PanoptesResultsOptions;
}

export const PANOPTES_CLIENT_ID = 'bridge-app-client-id-0123456789';
export const PANOPTES_CLIENT_SECRET = 'bridge-app-client-s3cret-9876543210';

const ACCEPT_V1 = /application\/vnd\.api\+json;\s*version=1/i;
const JSON_TYPES = new Set(['application/json', 'application/vnd.api+json']);
const KNOWN_SCOPES = new Set(['public', 'user', 'project', 'group', 'collection', 'classification', 'subject', 'medium', 'organization', 'translation']);
const MAX_PAGE_SIZE = 100;
const CONTENT_TYPE = 'application/vnd.api+json; version=1; charset=utf-8';
const ALLOWED_MIME = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/svg+xml',
  'image/tiff',
  'audio/mpeg',
  'audio/mp3',
  'audio/mp4',
  'audio/x-m4a',
  'video/mp4',
  'video/mpeg',
  'text/plain',
  'application/json',
]);
const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  mp4: 'video/mp4',
  txt: 'text/plain',
  json: 'application/json',
};

// ------------------------------------------------------------ request schemas (Panoptes' JSON schemas)

const IdLike = z.union([z.string(), z.number().int()]);
const Obj = z.record(z.string(), z.unknown());
const SubjectCreate = z.strictObject({
  external_id: z.string().optional(),
  metadata: Obj.optional(),
  locations: z.array(z.union([z.string(), Obj])),
  links: z.strictObject({
    project: IdLike,
    subject_sets: z.array(IdLike).optional(),
    owner: z.object({ type: z.string().optional(), id: IdLike.optional() }).optional(),
  }),
});
const SubjectSetCreate = z.strictObject({
  display_name: z.string(),
  metadata: Obj.optional(),
  expert_set: z.boolean().optional(),
  links: z.strictObject({
    project: IdLike,
    workflows: z.array(IdLike).optional(),
    collection: IdLike.optional(),
    subjects: z.array(IdLike).optional(),
  }),
});
const SubjectSetUpdate = z.strictObject({
  display_name: z.string().optional(),
  metadata: Obj.optional(),
  expert_set: z.boolean().optional(),
});
const ImportCreate = z.strictObject({
  source_url: z.string().optional(),
  links: z.strictObject({ subject_set: IdLike }),
});

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent as is instead of JSON (a file download). */
  raw?: Buffer;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface TokenRec {
  value: string;
  scopes: Set<string>;
  expiresAt: number;
  uses: number;
  revoked: boolean;
}

interface Ctx {
  req: IncomingMessage;
  url: URL;
  body: string;
  params: string[];
  token?: TokenRec;
}

interface RouteDef {
  method: string;
  pattern: RegExp;
  route: PanoptesRoute;
}

const ROUTES: RouteDef[] = [
  { method: 'GET', pattern: /^\/api\/me$/, route: 'me' },
  { method: 'GET', pattern: /^\/api\/projects\/([^/]+)$/, route: 'getProject' },
  { method: 'POST', pattern: /^\/api\/subject_sets$/, route: 'createSubjectSet' },
  { method: 'GET', pattern: /^\/api\/subject_sets$/, route: 'listSubjectSets' },
  { method: 'GET', pattern: /^\/api\/subject_sets\/([^/]+)$/, route: 'getSubjectSet' },
  { method: 'PUT', pattern: /^\/api\/subject_sets\/([^/]+)$/, route: 'updateSubjectSet' },
  { method: 'POST', pattern: /^\/api\/subject_sets\/([^/]+)\/links\/subjects$/, route: 'linkSubjects' },
  { method: 'DELETE', pattern: /^\/api\/subject_sets\/([^/]+)\/links\/subjects\/([^/]+)$/, route: 'unlinkSubjects' },
  { method: 'POST', pattern: /^\/api\/subjects$/, route: 'createSubject' },
  { method: 'GET', pattern: /^\/api\/subjects$/, route: 'listSubjects' },
  { method: 'GET', pattern: /^\/api\/subjects\/([^/]+)$/, route: 'getSubject' },
  { method: 'DELETE', pattern: /^\/api\/subjects\/([^/]+)$/, route: 'deleteSubject' },
  { method: 'POST', pattern: /^\/api\/subject_set_imports$/, route: 'createImport' },
  { method: 'GET', pattern: /^\/api\/subject_set_imports$/, route: 'listImports' },
  { method: 'GET', pattern: /^\/api\/subject_set_imports\/([^/]+)$/, route: 'getImport' },
  ...RESULTS_ROUTES,
];

export class PanoptesServerDouble {
  readonly url: string;
  readonly requests: LoggedRequest[] = [];
  /** Fault rules, consulted in order; push to inject. */
  readonly faults: Fault[] = [];
  readonly user: { id: string; login: string; subjectLimit: number; uploadedSubjectsCount: number };
  /** Subject creation switched off: POST /subjects answers 503. */
  uploadingDisabled = false;
  clientId: string;
  clientSecret: string;
  tokenTtlSeconds: number;
  tokenMaxUses: number;
  defaultPageSize: number;
  importRowLimit: number;
  importStartDelayMs: number;
  importRowDelayMs: number;
  tokensIssued = 0;
  /** Classifications, exports, retirement: seed and inspect them here. */
  readonly results: PanoptesResults;

  private readonly projects = new Map<string, DoubleProject>();
  private readonly subjects = new Map<string, DoubleSubject>();
  private readonly sets = new Map<string, DoubleSubjectSet>();
  private readonly importsById = new Map<string, DoubleImport>();
  private readonly tokens = new Map<string, TokenRec>();
  private readonly faultState = new WeakMap<Fault, { seen: number; draw?: () => number }>();
  private nextSubjectId = 1000;
  private nextSetId = 100;
  private nextImportId = 10;
  private seq = 0;
  private closed = false;

  private constructor(
    private readonly server: Server,
    port: number,
    opts: PanoptesDoubleOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.clientId = opts.clientId ?? PANOPTES_CLIENT_ID;
    this.clientSecret = opts.clientSecret ?? PANOPTES_CLIENT_SECRET;
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? 7200;
    this.tokenMaxUses = opts.tokenMaxUses ?? Infinity;
    this.defaultPageSize = opts.defaultPageSize ?? 20;
    this.importRowLimit = opts.importRowLimit ?? 10_000;
    this.importStartDelayMs = opts.importStartDelayMs ?? 5;
    this.importRowDelayMs = opts.importRowDelayMs ?? 0;
    this.user = { id: '1', login: 'rubin-epo-bridge', subjectLimit: 10_000, uploadedSubjectsCount: 0, ...opts.user };
    for (const p of opts.projects ?? [{ id: '1', displayName: 'Rubin Test Project', slug: 'rubin/test' }]) this.projects.set(p.id, p);
    this.results = new PanoptesResults(
      {
        url: this.url,
        userId: this.user.id,
        projectExists: (id) => this.projects.has(id),
        subject: (id) => {
          const s = this.subjects.get(id);
          return s && !s.deleted ? { projectId: s.projectId, metadata: s.metadata } : undefined;
        },
      },
      opts.results,
    );
  }

  static async start(opts: PanoptesDoubleOptions = {}): Promise<PanoptesServerDouble> {
    let self: PanoptesServerDouble | undefined;
    const server = createServer((req, res) => {
      void self!.handle(req, res).catch((e) => {
        if (!res.headersSent && !res.destroyed) write(res, { status: 500, body: { errors: [{ message: String(e) }] } });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new PanoptesServerDouble(server, (server.address() as AddressInfo).port, opts);
    return self;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.results.close();
    await Promise.allSettled([...this.importsById.values()].map((i) => i.done));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------ seeding and introspection

  /** Volunteers' classifications, stored with increasing ids (see server.results for more). */
  addClassifications(list: SeedClassification[]) {
    return this.results.addClassifications(list);
  }

  addProject(p: DoubleProject): void {
    this.projects.set(p.id, p);
  }

  /** A set made directly, as if by the project owner in the Lab. */
  seedSubjectSet(input: { projectId?: string; displayName: string; metadata?: Record<string, unknown> }): DoubleSubjectSet {
    return this.makeSet(input.projectId ?? [...this.projects.keys()][0], input.displayName, input.metadata ?? {});
  }

  /** n subjects uploaded directly into a set (they count towards the upload total). */
  seedSubjects(setId: string, n: number, externalId: (i: number) => string | null = (i) => `seed-${i}`): DoubleSubject[] {
    const set = this.sets.get(setId);
    if (!set) throw new Error(`no subject set ${setId}`);
    const out: DoubleSubject[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.makeSubject(set.projectId, externalId(i), [{ 'image/png': `https://bucket.example/seed/${i}.png` }], { '#i': i });
      this.link(set, [s.id]);
      out.push(s);
    }
    return out;
  }

  /** Every subject, deleted ones too unless asked otherwise. */
  allSubjects(opts: { includeDeleted?: boolean } = {}): DoubleSubject[] {
    return [...this.subjects.values()].filter((s) => opts.includeDeleted !== false || !s.deleted).map((s) => structuredClone(s));
  }

  subject(id: string): DoubleSubject | undefined {
    const s = this.subjects.get(id);
    return s && structuredClone(s);
  }

  subjectSet(id: string): DoubleSubjectSet | undefined {
    return this.sets.get(id);
  }

  /** Volunteers at work: the set is linked to the workflow and this share of its subjects is retired there. */
  setCompleteness(setId: string, workflowId: string, fraction: number): void {
    const set = this.sets.get(setId);
    if (!set) throw new Error(`no subject set ${setId}`);
    set.completeness[workflowId] = fraction;
  }

  setMembers(setId: string): string[] {
    return [...(this.sets.get(setId)?.members ?? [])];
  }

  /** External ids held by more than one live subject (within a set, or anywhere). */
  duplicateExternalIds(setId?: string): { externalId: string; subjectIds: string[] }[] {
    const pool = setId ? [...(this.sets.get(setId)?.members ?? [])].map((id) => this.subjects.get(id)!) : [...this.subjects.values()];
    const by = new Map<string, string[]>();
    for (const s of pool) {
      if (s.deleted || s.externalId === null) continue;
      by.set(s.externalId, [...(by.get(s.externalId) ?? []), s.id]);
    }
    return [...by].filter(([, ids]) => ids.length > 1).map(([externalId, subjectIds]) => ({ externalId, subjectIds }));
  }

  imports(): DoubleImport[] {
    return [...this.importsById.values()];
  }

  importById(id: string): DoubleImport | undefined {
    return this.importsById.get(id);
  }

  requestsTo(route: PanoptesRoute): LoggedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** Every token issued so far stops working (the server-side view of expiry). */
  expireAllTokens(): void {
    for (const t of this.tokens.values()) t.revoked = true;
  }

  // ------------------------------------------------------------ faults

  private takeFault(route: PanoptesRoute): Fault | undefined {
    for (const f of this.faults) {
      const routes = f.route === undefined ? undefined : Array.isArray(f.route) ? f.route : [f.route];
      if (routes && !routes.includes(route)) continue;
      if (!routes && route === 'importWorker') continue;
      const times = f.times ?? (f.rate !== undefined ? Infinity : 1);
      if ((f.fired ?? 0) >= times) continue;
      let st = this.faultState.get(f);
      if (!st) {
        st = { seen: 0, draw: f.rate !== undefined ? rng(f.seed ?? 1) : undefined };
        this.faultState.set(f, st);
      }
      st.seen++;
      if (st.seen <= (f.skip ?? 0)) continue;
      if (st.draw && st.draw() >= f.rate!) continue;
      f.fired = (f.fired ?? 0) + 1;
      return f;
    }
    return undefined;
  }

  // ------------------------------------------------------------ serving

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    let route: PanoptesRoute = 'other';
    let params: string[] = [];
    if (url.pathname === '/oauth/token') route = 'token';
    else {
      for (const r of ROUTES) {
        const m = r.method === method ? r.pattern.exec(url.pathname) : null;
        if (m) {
          route = r.route;
          params = m.slice(1).map(decodeURIComponent);
          break;
        }
      }
    }
    const entry: LoggedRequest = {
      seq: ++this.seq,
      route,
      method,
      url: req.url ?? '/',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      at: Date.now(),
    };
    this.requests.push(entry);
    const answer = (reply: Reply) => {
      entry.status = reply.status;
      write(res, reply);
    };
    const destroy = () => {
      entry.status = 0;
      req.socket.destroy();
    };

    // Versioned routing: without the v1 Accept header no API route exists at all.
    if (route !== 'token' && url.pathname.startsWith('/api/') && !ACCEPT_V1.test(String(req.headers.accept ?? ''))) {
      return answer(errorReply(404, 'Not Found'));
    }
    if (route === 'other') return answer(errorReply(404, `No route matches [${method}] "${url.pathname}"`));

    const fault = this.takeFault(route);
    if (fault) entry.fault = fault.kind;
    if (fault?.kind === 'reset') return destroy();
    if (fault?.kind === 'status') {
      const status = fault.status ?? 502;
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      return answer(errorReply(status, fault.message ?? defaultMessage(status), headers));
    }

    const ctx: Ctx = { req, url, body, params };
    let reply: Reply;
    try {
      if (fault?.kind === 'expire-token') {
        const t = bearer(req);
        const rec = t ? this.tokens.get(t) : undefined;
        if (rec) rec.revoked = true;
        throw new HttpError(401, 'The access token expired', { 'www-authenticate': 'Bearer realm="Panoptes", error="invalid_token", error_description="The access token expired"' });
      }
      if (route === 'token') reply = this.issueToken(ctx);
      // The signed export link is the object store's, not the API's: no token is asked for.
      else if (route === 'downloadExport') reply = this.results.api(route, { method, url, body, params, scopes: new Set() });
      else reply = await this.api(route, ctx);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      reply = route === 'token' ? { status: e.status, body: JSON.parse(e.message) as unknown, headers: e.headers } : errorReply(e.status, e.message, e.headers);
    }

    if (fault?.kind === 'commit-then-504') return answer(errorReply(504, '504 Gateway Time-out'));
    if (fault?.kind === 'commit-then-status') return answer(errorReply(fault.status ?? 504, fault.message ?? defaultMessage(fault.status ?? 504)));
    if (fault?.kind === 'commit-then-reset') return destroy();
    if (fault?.kind === 'commit-then-stall') {
      await sleep(fault.ms ?? 1000);
      if (res.destroyed || req.socket.destroyed) {
        entry.status = 0;
        return;
      }
    }
    if (fault?.kind === 'omit-fields' && reply.body && typeof reply.body === 'object') {
      for (const list of Object.values(reply.body as Record<string, unknown>)) {
        if (Array.isArray(list)) for (const r of list) if (r && typeof r === 'object') for (const f of fault.fields ?? []) delete (r as Record<string, unknown>)[f];
      }
    }
    if (fault?.kind === 'replace-body') reply = { ...reply, status: 200, body: fault.body };
    if (fault?.kind === 'add-fields' && reply.body && typeof reply.body === 'object') {
      for (const list of Object.values(reply.body as Record<string, unknown>)) {
        if (Array.isArray(list)) for (const r of list) if (r && typeof r === 'object') Object.assign(r, structuredClone(fault.extra ?? {}));
      }
    }
    if (fault?.kind === 'truncate-body' && reply.raw) reply = { ...reply, raw: reply.raw.subarray(0, Math.floor(reply.raw.length / 2)) };
    if (fault?.kind === 'cut-body' && reply.raw) {
      entry.status = reply.status;
      res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.raw.length) });
      res.write(reply.raw.subarray(0, Math.floor(reply.raw.length / 2)));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    answer(reply);
  }

  // ------------------------------------------------------------ /oauth/token

  private issueToken(ctx: Ctx): Reply {
    const oauthError = (status: number, error: string, description: string) => new HttpError(status, JSON.stringify({ error, error_description: description }));
    if (ctx.req.method !== 'POST') throw oauthError(405, 'invalid_request', 'The token endpoint only takes POST.');
    const type = mediaType(ctx.req.headers['content-type']);
    let params: Record<string, string> = {};
    if (type === 'application/x-www-form-urlencoded') params = Object.fromEntries(new URLSearchParams(ctx.body));
    else if (type === 'application/json') {
      try {
        params = JSON.parse(ctx.body) as Record<string, string>;
      } catch {
        throw oauthError(400, 'invalid_request', 'The request body is not JSON.');
      }
    } else throw oauthError(400, 'invalid_request', 'The request is missing a required parameter.');
    let { client_id: id, client_secret: secret } = params;
    const basic = /^Basic (\S+)$/i.exec(String(ctx.req.headers.authorization ?? ''));
    if (basic) [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent);
    if (ctx.url.searchParams.has('client_secret')) throw oauthError(400, 'invalid_request', 'Client credentials must not be sent in the URL.');
    if (params.grant_type !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
    if (id !== this.clientId || secret !== this.clientSecret) {
      throw oauthError(401, 'invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.');
    }
    const scopes = new Set((params.scope ?? 'public').split(/\s+/).filter(Boolean));
    for (const s of scopes) if (!KNOWN_SCOPES.has(s)) throw oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
    const value = `dbl.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(value, { value, scopes, expiresAt: Date.now() + this.tokenTtlSeconds * 1000, uses: 0, revoked: false });
    this.tokensIssued++;
    return {
      status: 200,
      body: { access_token: value, token_type: 'Bearer', expires_in: this.tokenTtlSeconds, scope: [...scopes].join(' '), created_at: Math.floor(Date.now() / 1000) },
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    };
  }

  // ------------------------------------------------------------ /api

  private async api(route: PanoptesRoute, ctx: Ctx): Promise<Reply> {
    const method = ctx.req.method ?? 'GET';
    if (method === 'POST' || method === 'PUT') {
      if (!JSON_TYPES.has(mediaType(ctx.req.headers['content-type']))) throw new HttpError(415, 'Only requests with Content-Type: application/json or application/vnd.api+json are allowed');
    }
    ctx.token = this.authenticate(ctx.req);
    const [a, b] = ctx.params;
    switch (route) {
      case 'me':
        return ok('users', [this.userJson()]);
      case 'getProject': {
        const p = this.projects.get(a);
        if (!p) throw notFound('project', a);
        return ok('projects', [projectJson(p)], etagOf('projects', p.id, 1));
      }
      case 'createSubjectSet':
        return this.createSubjectSet(ctx);
      case 'listSubjectSets':
        return this.listSubjectSets(ctx);
      case 'getSubjectSet': {
        const s = this.liveSet(a);
        return ok('subject_sets', [this.setJson(s)], etagOf('subject_sets', s.id, s.version));
      }
      case 'updateSubjectSet':
        return this.updateSubjectSet(ctx, a);
      case 'linkSubjects':
        return this.linkSubjects(ctx, a);
      case 'unlinkSubjects':
        return this.unlinkSubjects(ctx, a, b);
      case 'createSubject':
        return this.createSubject(ctx);
      case 'listSubjects':
        return this.listSubjects(ctx);
      case 'getSubject': {
        const s = this.liveSubject(a);
        return ok('subjects', [this.subjectJson(s)], etagOf('subjects', s.id, s.version));
      }
      case 'deleteSubject':
        return this.deleteSubject(ctx, a);
      case 'createImport':
        return this.createImport(ctx);
      case 'listImports':
        return this.listImports(ctx);
      case 'getImport': {
        const i = this.importsById.get(a);
        if (!i) throw notFound('subject_set_import', a);
        return ok('subject_set_imports', [importJson(i)], etagOf('subject_set_imports', i.id, i.updatedAt));
      }
      default:
        if (isResultsRoute(route)) return this.results.api(route, { method, url: ctx.url, body: ctx.body, params: ctx.params, scopes: ctx.token.scopes });
        throw new HttpError(404, 'Not Found');
    }
  }

  private authenticate(req: IncomingMessage): TokenRec {
    const challenge = (error: string, description: string) => ({ 'www-authenticate': `Bearer realm="Panoptes", error="${error}", error_description="${description}"` });
    const t = bearer(req);
    if (!t) throw new HttpError(401, 'You must be logged in to access this resource.', { 'www-authenticate': 'Bearer realm="Panoptes"' });
    const rec = this.tokens.get(t);
    if (!rec) throw new HttpError(401, 'The access token is invalid', challenge('invalid_token', 'The access token is invalid'));
    rec.uses++;
    if (rec.revoked || Date.now() >= rec.expiresAt || rec.uses > this.tokenMaxUses) {
      rec.revoked = true;
      throw new HttpError(401, 'The access token expired', challenge('invalid_token', 'The access token expired'));
    }
    return rec;
  }

  private requireScope(ctx: Ctx, scope: string): void {
    if (!ctx.token!.scopes.has(scope)) throw new HttpError(403, `The access token does not have the '${scope}' scope this action requires.`);
  }

  /** The resource object of a create/update body, checked against its schema (422). */
  private resource<S extends z.ZodType>(ctx: Ctx, key: string, schema: S): z.output<S> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(ctx.body);
    } catch {
      throw new HttpError(400, 'There was a problem in the JSON you submitted');
    }
    const inner = (parsed as Record<string, unknown> | null)?.[key];
    if (inner === undefined || inner === null) throw new HttpError(422, `param is missing or the value is empty: ${key}`);
    const r = schema.safeParse(inner);
    if (!r.success) throw new HttpError(422, schemaMessage(key, r.error));
    return r.data;
  }

  /** 428 without If-Match, 412 when it is not the current ETag. */
  private precondition(ctx: Ctx, current: string): void {
    const given = ctx.req.headers['if-match'];
    if (!given) throw new HttpError(428, 'Request requires If-Match header to be present');
    const strip = (e: string) => e.trim().replace(/^W\//, '');
    if (!String(given).split(',').some((g) => strip(g) === strip(current) || g.trim() === '*')) throw new HttpError(412, 'JsonApiController::PreconditionFailed');
  }

  private liveSet(id: string): DoubleSubjectSet {
    const s = this.sets.get(id);
    if (!s) throw notFound('subject_set', id);
    return s;
  }

  private liveSubject(id: string): DoubleSubject {
    const s = this.subjects.get(id);
    if (!s || s.deleted) throw notFound('subject', id);
    return s;
  }

  // ------------------------------------------------------------ subject sets

  private createSubjectSet(ctx: Ctx): Reply {
    this.requireScope(ctx, 'project');
    const input = this.resource(ctx, 'subject_sets', SubjectSetCreate);
    const project = this.projects.get(String(input.links.project));
    if (!project) throw linkError('project');
    const subjectIds = (input.links.subjects ?? []).map(String);
    if (subjectIds.some((id) => !this.subjects.get(id) || this.subjects.get(id)!.deleted)) throw linkError('subjects');
    const set = this.makeSet(project.id, input.display_name, input.metadata ?? {});
    this.link(set, subjectIds);
    return ok('subject_sets', [this.setJson(set)], etagOf('subject_sets', set.id, set.version), 201);
  }

  private updateSubjectSet(ctx: Ctx, id: string): Reply {
    this.requireScope(ctx, 'project');
    const set = this.liveSet(id);
    const input = this.resource(ctx, 'subject_sets', SubjectSetUpdate);
    this.precondition(ctx, etagOf('subject_sets', set.id, set.version));
    if (input.display_name !== undefined) set.displayName = input.display_name;
    if (input.metadata !== undefined) set.metadata = input.metadata;
    touch(set);
    return ok('subject_sets', [this.setJson(set)], etagOf('subject_sets', set.id, set.version));
  }

  private listSubjectSets(ctx: Ctx): Reply {
    const q = ctx.url.searchParams;
    let rows = [...this.sets.values()];
    const ids = listParam(q, 'id');
    if (ids) rows = rows.filter((s) => ids.includes(s.id));
    const projects = listParam(q, 'project_id');
    if (projects) rows = rows.filter((s) => projects.includes(s.projectId));
    const name = q.get('display_name');
    if (name !== null) rows = rows.filter((s) => s.displayName === name);
    for (const [k, v] of q) {
      const m = /^metadata\.(.+)$/.exec(k);
      if (m) rows = rows.filter((s) => JSON.stringify(s.metadata[m[1]]) === JSON.stringify(v));
    }
    return this.page(q, 'subject_sets', sortRows(rows, q.get('sort')), (s) => this.setJson(s), ['id', 'project_id', 'display_name']);
  }

  private linkSubjects(ctx: Ctx, id: string): Reply {
    const set = this.liveSet(id);
    let parsed: unknown;
    try {
      parsed = JSON.parse(ctx.body);
    } catch {
      throw new HttpError(400, 'There was a problem in the JSON you submitted');
    }
    const value = (parsed as Record<string, unknown> | null)?.subjects;
    if (value === undefined || value === null) throw new HttpError(422, 'Link relation subjects must match body key');
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) {
      throw new HttpError(422, 'Error: check the subject set and all the subjects exist.');
    }
    const ids = value.map(String);
    // Panoptes counts the distinct subjects it finds against the ids as sent.
    const found = new Set(ids.filter((s) => this.subjects.get(s) && !this.subjects.get(s)!.deleted));
    if (found.size !== ids.length) throw new HttpError(422, 'Error: check the subject set and all the subjects exist.');
    this.link(set, ids);
    this.results.noteLinkRequest(set.id, ids);
    touch(set);
    return ok('subject_sets', [this.setJson(set)]);
  }

  private unlinkSubjects(ctx: Ctx, id: string, list: string): Reply {
    const set = this.liveSet(id);
    this.precondition(ctx, etagOf('subject_sets', set.id, set.version));
    for (const s of list.split(',')) set.members.delete(String(Number.parseInt(s, 10)));
    touch(set);
    return { status: 204 };
  }

  // ------------------------------------------------------------ subjects

  private createSubject(ctx: Ctx): Reply {
    this.requireScope(ctx, 'subject');
    if (this.uploadingDisabled) throw new HttpError(503, 'Feature has been temporarily disabled');
    if (this.user.uploadedSubjectsCount >= this.user.subjectLimit) {
      throw new HttpError(403, `User has uploaded ${this.user.uploadedSubjectsCount} subjects of ${this.user.subjectLimit} maximum`);
    }
    const input = this.resource(ctx, 'subjects', SubjectCreate);
    const project = this.projects.get(String(input.links.project));
    if (!project) throw linkError('project');
    const setIds = (input.links.subject_sets ?? []).map(String);
    const sets = setIds.map((s) => this.sets.get(s));
    if (sets.some((s) => !s || s.projectId !== project.id)) throw linkError('subject_sets');
    const locations: Record<string, string>[] = [];
    for (const loc of input.locations) {
      // Object form is an external link, returned unchanged; a bare mime type gets a signed upload URL.
      const mime = typeof loc === 'string' ? loc : Object.keys(loc)[0];
      const src = typeof loc === 'string' ? undefined : loc[mime];
      if (!mime || !ALLOWED_MIME.has(mime)) throw new HttpError(400, `Validation failed: Locations content type '${mime ?? ''}' is not allowed`);
      if (src !== undefined && typeof src !== 'string') throw new HttpError(400, 'Validation failed: Locations src must be a string');
      locations.push({ [mime]: src ?? `https://panoptes-uploads.zooniverse.org/subject_location/${randomBytes(16).toString('hex')}.${mime.split('/')[1]}?X-Amz-Expires=1200&X-Amz-Signature=${randomBytes(16).toString('hex')}` });
    }
    const subject = this.makeSubject(project.id, input.external_id ?? null, locations, input.metadata ?? {});
    for (const set of sets) {
      this.link(set!, [subject.id]);
      touch(set!);
    }
    return ok('subjects', [this.subjectJson(subject)], etagOf('subjects', subject.id, subject.version), 201);
  }

  private listSubjects(ctx: Ctx): Reply {
    const q = ctx.url.searchParams;
    let rows = [...this.subjects.values()].filter((s) => !s.deleted);
    const ids = listParam(q, 'id');
    if (ids) rows = rows.filter((s) => ids.includes(s.id));
    const projects = listParam(q, 'project_id');
    if (projects) rows = rows.filter((s) => projects.includes(s.projectId));
    const uploaders = listParam(q, 'upload_user_id');
    if (uploaders) rows = rows.filter((s) => uploaders.includes(s.uploaderId));
    const setIds = listParam(q, 'subject_set_id');
    if (setIds) rows = rows.filter((s) => setIds.some((id) => this.sets.get(id)?.members.has(s.id)));
    return this.page(q, 'subjects', sortRows(rows, q.get('sort')), (s) => this.subjectJson(s), ['id', 'project_id', 'upload_user_id', 'subject_set_id']);
  }

  private deleteSubject(ctx: Ctx, id: string): Reply {
    this.requireScope(ctx, 'subject');
    const s = this.liveSubject(id);
    this.precondition(ctx, etagOf('subjects', s.id, s.version));
    s.deleted = true;
    s.version++;
    for (const set of this.sets.values()) {
      if (set.members.delete(s.id)) touch(set);
    }
    return { status: 204 };
  }

  // ------------------------------------------------------------ imports

  private async createImport(ctx: Ctx): Promise<Reply> {
    this.requireScope(ctx, 'project');
    const input = this.resource(ctx, 'subject_set_imports', ImportCreate);
    const set = this.sets.get(String(input.links.subject_set));
    if (!set) throw linkError('subject_set');
    const sourceUrl = input.source_url ?? '';
    let parsedUrl: URL | undefined;
    try {
      parsedUrl = new URL(sourceUrl);
    } catch {
      parsedUrl = undefined;
    }
    if (!parsedUrl || (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') || !parsedUrl.hostname) throw new HttpError(422, 'Source url is malformed');
    let rows: Record<string, string>[];
    try {
      rows = await downloadManifest(sourceUrl);
    } catch {
      throw new HttpError(422, `Failed to download manifest: ${sourceUrl}`);
    }
    if (rows.length > this.importRowLimit) {
      throw new HttpError(403, `Manifest row count (${rows.length}) exceeds the limit (${this.importRowLimit}) and can not be imported`);
    }
    const now = new Date().toISOString();
    const imp: DoubleImport = {
      id: String(this.nextImportId++),
      subjectSetId: set.id,
      sourceUrl,
      manifestCount: rows.length,
      importedCount: 0,
      processed: 0,
      failedCount: 0,
      failedUuids: [],
      state: 'pending',
      failures: [],
      createdAt: now,
      updatedAt: now,
      done: Promise.resolve(),
    };
    this.importsById.set(imp.id, imp);
    imp.done = this.runImport(imp, set);
    return ok('subject_set_imports', [importJson(imp)], etagOf('subject_set_imports', imp.id, imp.updatedAt), 201);
  }

  private listImports(ctx: Ctx): Reply {
    const q = ctx.url.searchParams;
    let rows = [...this.importsById.values()];
    const ids = listParam(q, 'id');
    if (ids) rows = rows.filter((i) => ids.includes(i.id));
    const sets = listParam(q, 'subject_set_id');
    if (sets) rows = rows.filter((i) => sets.includes(i.subjectSetId));
    return this.page(q, 'subject_set_imports', sortRows(rows, q.get('sort')), importJson, ['id', 'subject_set_id']);
  }

  /** The background worker: downloads the manifest again and upserts row by row. */
  private async runImport(imp: DoubleImport, set: DoubleSubjectSet): Promise<void> {
    await sleep(this.importStartDelayMs);
    if (this.closed) return;
    imp.state = 'running';
    let rows: Record<string, string>[];
    try {
      rows = await downloadManifest(imp.sourceUrl);
    } catch (e) {
      imp.state = 'failed';
      imp.failures.push({ externalId: '', message: `manifest download failed: ${String(e)}` });
      return;
    }
    const fault = this.takeFault('importWorker');
    const abortAfter = fault?.kind === 'abort-import' ? (fault.afterRows ?? 0) : Infinity;
    const failing = fault?.kind === 'fail-rows' ? { from: fault.afterRows ?? 0, to: (fault.afterRows ?? 0) + (fault.failRows ?? 1) } : undefined;
    const cadence = progressCadence(imp.manifestCount);
    const byExternalId = new Map<string, DoubleSubject>();
    for (const id of set.members) {
      const s = this.subjects.get(id)!;
      if (s.externalId !== null && !byExternalId.has(s.externalId)) byExternalId.set(s.externalId, s);
    }
    for (const row of rows) {
      if (this.closed) return;
      if (imp.processed >= abortAfter) {
        imp.state = 'failed';
        imp.failures.push({ externalId: '', message: 'the import worker died' });
        return;
      }
      const externalId = row.external_id;
      try {
        if (failing && imp.processed >= failing.from && imp.processed < failing.to) throw new Error('Validation failed: Locations could not be fetched (injected)');
        this.importRow(set, row, byExternalId);
      } catch (e) {
        imp.failedCount++;
        imp.failedUuids = [...new Set([...imp.failedUuids, externalId ?? ''])];
        imp.failures.push({ externalId: externalId ?? '', message: (e as Error).message });
      }
      imp.processed++;
      // imported_count leaves the failed rows out: imported_count + failed_count reaches manifest_count at the end.
      if (cadence > 0 && imp.processed % cadence === 0) {
        imp.importedCount = imp.processed - imp.failedCount;
        imp.updatedAt = new Date().toISOString();
      }
      if (this.importRowDelayMs > 0) await sleep(this.importRowDelayMs);
    }
    imp.importedCount = imp.processed - imp.failedCount;
    imp.updatedAt = new Date().toISOString();
    imp.state = 'completed';
  }

  /** One manifest row: upsert by external_id within the set. */
  private importRow(set: DoubleSubjectSet, row: Record<string, string>, byExternalId: Map<string, DoubleSubject>): void {
    const externalId = row.external_id;
    if (!externalId) throw new Error('Validation failed: external_id is missing');
    const locations: Record<string, string>[] = [];
    const metadata: Record<string, unknown> = {};
    for (const [header, value] of Object.entries(row)) {
      const [type, key] = header.split(':');
      if (type === 'location') {
        // Panoptes takes the extension of the whole cell (query string included).
        const base = value.slice(value.lastIndexOf('/') + 1);
        const dot = base.lastIndexOf('.');
        const mime = dot > 0 ? MIME_BY_EXTENSION[base.slice(dot + 1).toLowerCase()] : undefined;
        if (!mime) throw new Error(`Validation failed: Locations content type is invalid for '${value}'`);
        locations.push({ [mime]: value });
      } else if (type === 'metadata' && key !== undefined) {
        metadata[key] = value;
      }
    }
    const known = byExternalId.get(externalId);
    const existing = known && !known.deleted && set.members.has(known.id) ? known : undefined;
    if (existing) {
      existing.metadata = metadata;
      existing.locations = locations;
      existing.version++;
      existing.updatedAt = new Date().toISOString();
      return;
    }
    const s = this.makeSubject(set.projectId, externalId, locations, metadata);
    byExternalId.set(externalId, s);
    this.link(set, [s.id]);
    touch(set);
  }

  // ------------------------------------------------------------ state

  private makeSet(projectId: string, displayName: string, metadata: Record<string, unknown>): DoubleSubjectSet {
    const now = new Date().toISOString();
    const set: DoubleSubjectSet = { id: String(this.nextSetId++), projectId, displayName, metadata, members: new Set(), completeness: {}, createdAt: now, updatedAt: now, version: 1 };
    this.sets.set(set.id, set);
    return set;
  }

  private makeSubject(projectId: string, externalId: string | null, locations: Record<string, string>[], metadata: Record<string, unknown>): DoubleSubject {
    const now = new Date().toISOString();
    const s: DoubleSubject = { id: String(this.nextSubjectId++), projectId, externalId, locations, metadata, uploaderId: this.user.id, createdAt: now, updatedAt: now, version: 1, deleted: false };
    this.subjects.set(s.id, s);
    // Deletes never give it back.
    this.user.uploadedSubjectsCount++;
    return s;
  }

  private link(set: DoubleSubjectSet, ids: string[]): void {
    for (const id of ids) set.members.add(id);
  }

  // ------------------------------------------------------------ serialization

  private userJson(): unknown {
    const u = this.user;
    return {
      id: u.id,
      login: u.login,
      display_name: u.login,
      credited_name: u.login,
      subject_limit: u.subjectLimit,
      uploaded_subjects_count: u.uploadedSubjectsCount,
      admin: false,
      upload_whitelist: false,
      href: `/users/${u.id}`,
    };
  }

  private setJson(s: DoubleSubjectSet): unknown {
    return {
      id: s.id,
      display_name: s.displayName,
      set_member_subjects_count: [...s.members].filter((id) => !this.subjects.get(id)?.deleted).length,
      metadata: s.metadata,
      created_at: s.createdAt,
      updated_at: s.updatedAt,
      href: `/subject_sets/${s.id}`,
      completeness: s.completeness,
      links: { project: s.projectId, workflows: Object.keys(s.completeness) },
    };
  }

  private subjectJson(s: DoubleSubject): unknown {
    const sets = [...this.sets.values()].filter((set) => set.members.has(s.id)).map((set) => set.id);
    return {
      id: s.id,
      metadata: s.metadata,
      locations: s.locations,
      zooniverse_id: null,
      external_id: s.externalId,
      created_at: s.createdAt,
      updated_at: s.updatedAt,
      href: `/subjects/${s.id}`,
      links: { project: s.projectId, collections: [], subject_sets: sets },
    };
  }

  /** One page as RestPack renders it: meta.<type>.{page, page_size, count, page_count, ...} with hrefs relative to /api. */
  private page<T>(q: URLSearchParams, key: string, rows: T[], render: (r: T) => unknown, filterKeys: string[]): Reply {
    const rawSize = q.get('page_size');
    let size = rawSize === null ? this.defaultPageSize : Number.parseInt(rawSize, 10);
    if (!Number.isFinite(size)) size = this.defaultPageSize;
    if (size <= 0) throw new HttpError(422, "Current page was incalculable. Perhaps you supplied 'page_size: 0' as a param?");
    size = Math.min(size, MAX_PAGE_SIZE);
    const page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
    const count = rows.length;
    const pageCount = Math.ceil(count / size);
    const slice = rows.slice((page - 1) * size, page * size);
    const href = (p: number | null) => {
      if (p === null) return null;
      const parts: string[] = [];
      if (p !== 1) parts.push(`page=${p}`);
      if (size !== this.defaultPageSize) parts.push(`page_size=${size}`);
      const sort = q.get('sort');
      if (sort) parts.push(`sort=${encodeURIComponent(sort)}`);
      for (const k of [...filterKeys].sort()) {
        const v = q.get(k);
        if (v !== null && v !== '') parts.push(`${k}=${encodeURIComponent(v)}`);
      }
      return `/${key}${parts.length ? `?${parts.join('&')}` : ''}`;
    };
    const next = page < pageCount ? page + 1 : null;
    const previous = page > 1 ? Math.min(page - 1, Math.max(pageCount, 1)) : null;
    const meta = {
      page,
      page_size: size,
      count,
      include: [],
      page_count: pageCount,
      previous_page: previous,
      next_page: next,
      first_href: href(1),
      previous_href: href(previous),
      next_href: href(next),
      last_href: href(Math.max(pageCount, 1)),
    };
    return { status: 200, body: { [key]: slice.map(render), links: {}, meta: { [key]: meta } } };
  }
}

// ------------------------------------------------------------ helpers

function touch(x: { version: number; updatedAt: string }): void {
  x.version++;
  x.updatedAt = new Date().toISOString();
}

function ok(key: string, items: unknown[], etag?: string, status = 200): Reply {
  return { status, body: { [key]: items, links: {} }, headers: etag ? { etag } : {} };
}

function etagOf(type: string, id: string, version: number | string): string {
  return `"${createHash('md5').update(`${type}/${id}/${version}`).digest('hex')}"`;
}

function errorReply(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return { status, body: { errors: [{ message }] }, headers };
}

function notFound(type: string, id: string): HttpError {
  return new HttpError(404, `Could not find ${type} with id='${id}'`);
}

function linkError(relation: string): HttpError {
  return new HttpError(422, `Couldn't find linked ${relation} for current user`);
}

function defaultMessage(status: number): string {
  switch (status) {
    case 409:
      return 'Attempted to update a stale object: SubjectSet.';
    case 429:
      return 'Too many requests';
    case 502:
      return '502 Bad Gateway';
    case 503:
      return 'Service Unavailable';
    case 504:
      return '504 Gateway Time-out';
    default:
      return `HTTP ${status}`;
  }
}

function schemaMessage(key: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const where = ['#', key, ...i.path.map(String)].join('/');
      if (i.code === 'unrecognized_keys') return `${where}: contains additional properties ${JSON.stringify(i.keys)} outside of the schema when none are allowed`;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

function projectJson(p: DoubleProject): unknown {
  return {
    id: p.id,
    display_name: p.displayName,
    slug: p.slug ?? `owner/${p.displayName.toLowerCase().replace(/\W+/g, '-')}`,
    live: false,
    launch_approved: false,
    private: false,
    href: `/projects/${p.id}`,
    links: { owner: { id: '1', type: 'users', href: '/users/1' } },
  };
}

function importJson(i: DoubleImport): unknown {
  return {
    id: i.id,
    href: `/subject_set_imports/${i.id}`,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    source_url: i.sourceUrl,
    imported_count: i.importedCount,
    manifest_count: i.manifestCount,
    failed_count: i.failedCount,
    progress: i.manifestCount === 0 ? 0 : Math.min(1, Math.max(0, (i.importedCount + i.failedCount) / i.manifestCount)),
    links: { subject_set: i.subjectSetId, user: '1' },
  };
}

function sortRows<T extends { id: string }>(rows: T[], sort: string | null): T[] {
  const desc = sort?.startsWith('-') ?? false;
  const field = (sort ?? 'id').replace(/^-/, '');
  const out = [...rows].sort((a, b) => {
    if (field === 'display_name') {
      const x = (a as unknown as { displayName: string }).displayName;
      const y = (b as unknown as { displayName: string }).displayName;
      return x < y ? -1 : x > y ? 1 : Number(a.id) - Number(b.id);
    }
    return Number(a.id) - Number(b.id);
  });
  return desc ? out.reverse() : out;
}

function listParam(q: URLSearchParams, key: string): string[] | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  return v.split(',').map((s) => s.trim());
}

/** 1-10 rows: every 5; up to 100: 25; up to 1,000: 50; up to 10,000: 250 (Panoptes' ProgressUpdateCadence). */
function progressCadence(rows: number): number {
  if (rows === 0) return 0;
  const n = rows > 1 ? rows - 1 : rows;
  const magnitude = Math.floor(Math.log10(n));
  return [5, 25, 50, 250][magnitude] ?? 500;
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
}

function mediaType(h: string | string[] | undefined): string {
  return String(h ?? '').split(';')[0].trim().toLowerCase();
}


function write(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  if (reply.raw) {
    res.writeHead(reply.status, { 'content-length': String(reply.raw.length), ...reply.headers });
    res.end(reply.raw);
    return;
  }
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, reply.headers ?? {});
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text), ...reply.headers });
  res.end(text);
}

async function downloadManifest(url: string): Promise<Record<string, string>[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return parseCsv(await res.text());
}

/** RFC 4180 with a header row: quoted fields, doubled quotes, CRLF or LF, a BOM; blank lines skipped. */
export function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    record.push(field);
    field = '';
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
    } else field += c;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length > 0) endRecord();
  const [header, ...rows] = records;
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, k) => [h.trim(), r[k] ?? ''])));
}

/** A public bucket stand-in that serves manifests for Panoptes to fetch. */
export class ManifestHost {
  private readonly files = new Map<string, string>();
  readonly fetched: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ManifestHost> {
    let self: ManifestHost | undefined;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      self!.fetched.push(path);
      const text = self!.files.get(path);
      if (text === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('NoSuchKey');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new ManifestHost(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Serves `csv` at `path` and returns its URL. */
  put(path: string, csv: string): string {
    const p = path.startsWith('/') ? path : `/${path}`;
    this.files.set(p, csv);
    return this.url + p;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
