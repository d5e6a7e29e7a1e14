import { setTimeout as delay } from 'node:timers/promises';

import { z } from 'zod';

import { UpstreamError, ValidationError } from '../../domain/errors.js';
import {
  AmbiguousRequestError,
  PanoptesConflict,
  PanoptesNotFound,
  PanoptesRateLimited,
  PanoptesRefused,
  PanoptesUnreadable,
  SubjectLimitError,
  type NewSubject,
  type PanoptesClient,
  type PanoptesOperation,
  type PanoptesProject,
  type PanoptesSubject,
  type PanoptesSubjectSet,
  type PanoptesSubjectSetImport,
  type PanoptesUser,
  type SubjectQuery,
} from '../../domain/ports/panoptes-client.js';
import { TransientFailure, backoffDelay, networkErrorCode, retrying, transientAnswer, type RetryPolicy, type TransientStatuses, type UpstreamRetryNotice } from '../http/retry.js';
import { ClientCredentialsToken } from './oauth-token.js';
import { refusalOf } from './refusal.js';

/*
 * Client of Zooniverse's Panoptes API (shared/reference/zooniverse.md) for the
 * bridge's application account. Longer than 400 lines because every
 * Panoptes call the bridge makes shares one request path (token, retries,
 * If-Match, ambiguity), and splitting the calls from it would hide which
 * failures each call may meet.
 *
 * Which failures are retried here
 * -------------------------------
 * Reads, links (re-linking is harmless), unlinks and deletes (guarded by
 * If-Match) are retried with capped, jittered exponential backoff on network
 * errors, 409 and 5xx, and after Retry-After on 429/503.
 *
 * The three creates are not idempotent and Panoptes does not deduplicate, so
 * they are retried only when the request certainly did nothing: the
 * connection was never made, 401 (refused before the action runs), 409 (the
 * transaction rolled back), 429 and 503 (refused before the action runs:
 * throttling, or the feature switched off). A timeout, a connection lost
 * after sending, or 500/502/504 may follow a commit (a 504 after the commit is
 * how real projects get duplicates), so they surface as AmbiguousRequestError
 * and the caller looks before it creates again.
 *
 * A 401 is answered by fetching a new token once per request; a second 401
 * means the credentials themselves are refused.
 *
 * This file is where Panoptes' status numbers become the port's typed errors
 * (PanoptesNotFound, PanoptesConflict, PanoptesRateLimited, PanoptesRefused,
 * AmbiguousRequestError, SubjectLimitError); nothing past it reads a status.
 */

export interface PanoptesHttpClientOptions {
  /** Told of each failed attempt (the service logs it at info and counts it for /metrics). */
  onRetry?: (n: UpstreamRetryNotice) => void;
  /** https://www.zooniverse.org or https://panoptes-staging.zooniverse.org; API under /api, tokens at /oauth/token. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Default 'public user project subject'. */
  scope?: string;
  /** Attempts per idempotent request. Default 5, like the official client. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not slept in-process: the job layer gets it (UpstreamError.retryAfterMs). */
  maxRetryAfterMs?: number;
  /** Whole request, answer included. A create that runs out of it is ambiguous. */
  requestTimeoutMs?: number;
  /** Items per listing page (Panoptes caps it at 100). */
  pageSize?: number;
  /** Subjects per link request (the official client uses 100). */
  linkChunkSize?: number;
  userAgent?: string;
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const ACCEPT = 'application/vnd.api+json; version=1';
const MAX_PAGE_SIZE = 100;
/** Times a request whose If-Match went stale (or that met a 409) is re-read and sent again. */
const MAX_STALE_RETRIES = 3;
/** The connection was never established: nothing reached Panoptes. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const LIMIT_MESSAGE = /uploaded\s+(\d+)\s+subjects?\s+of\s+(\d+)\s+maximum/i;
/**
 * Every 5xx, and 429; 409 is handled before (it has its own retries). 429
 * and 503 carry Retry-After and are answered before the action runs.
 */
const TRANSIENT: TransientStatuses = { below500: new Set([429]), retryAfter: new Set([429, 503]) };

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Call {
  method: Method;
  /** Under /api, e.g. /subjects/12 */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Required for PUT and DELETE: the ETag of the GET just before. */
  ifMatch?: string;
  /** For messages: "creating a subject". */
  what: string;
  /** Set on creates: the outcome may be unknown and must not be retried blindly. */
  creates?: PanoptesOperation;
  /** Called before a 409 is retried (the set changed under us: read it again). */
  onConflict?: () => Promise<unknown>;
}

interface Answer {
  status: number;
  body: unknown;
  etag?: string;
}

/** 409: the transaction rolled back; read again and resend. */
class Conflict extends TransientFailure {}
/** 429 or 503: Panoptes asks us to wait, and did nothing. */
class Throttled extends TransientFailure {}
class Unauthorized extends Error {
  constructor(
    message: string,
    readonly token: string,
  ) {
    super(message);
  }
}
/** 412: the If-Match no longer matches; read the resource again. */
class StaleEtag extends Error {}

// ------------------------------------------------------------ wire shapes

const Id = z.union([z.string().min(1), z.number().int()]).transform(String);
const Metadata = z.record(z.string(), z.unknown()).nullish().transform((m) => m ?? {});
const Count = z.number().int().nonnegative().nullish().transform((n) => n ?? 0);

const UserJson = z.object({ id: Id, login: z.string(), subject_limit: Count, uploaded_subjects_count: Count });
const ProjectJson = z.object({
  id: Id,
  display_name: z.string(),
  slug: z.string().nullish(),
  live: z.boolean().nullish(),
  launch_approved: z.boolean().nullish(),
});
const SubjectSetJson = z.object({
  id: Id,
  display_name: z.string(),
  metadata: Metadata,
  set_member_subjects_count: Count,
  // Absent from older Panoptes; values arrive as numbers or numeric strings (jsonb).
  completeness: z.record(z.string(), z.union([z.number(), z.string()])).nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ project: Id.nullish() }).partial().optional(),
});
const SubjectJson = z.object({
  id: Id,
  external_id: z.string().nullish(),
  locations: z.array(z.record(z.string(), z.string())).nullish(),
  metadata: Metadata,
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ project: Id.nullish(), subject_sets: z.array(Id).nullish() }).partial().optional(),
});
const ImportJson = z.object({
  id: Id,
  source_url: z.string().nullish(),
  imported_count: Count,
  // Null until Panoptes has counted the manifest's rows: not "zero rows to import".
  manifest_count: z.number().int().nonnegative().nullish().transform((n) => n ?? null),
  failed_count: Count,
  progress: z.number().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ subject_set: Id.nullish() }).partial().optional(),
});
const PageMeta = z.object({
  page: z.number().int(),
  page_count: z.number().int().nullish(),
  count: z.number().int().nullish(),
  next_page: z.number().int().nullish(),
  next_href: z.string().nullish(),
});

function toUser(j: z.infer<typeof UserJson>): PanoptesUser {
  return { id: j.id, login: j.login, subjectLimit: j.subject_limit, uploadedSubjectsCount: j.uploaded_subjects_count };
}
function toProject(j: z.infer<typeof ProjectJson>): PanoptesProject {
  return { id: j.id, displayName: j.display_name, slug: j.slug ?? '', live: j.live ?? false, launchApproved: j.launch_approved ?? false };
}
function toSet(j: z.infer<typeof SubjectSetJson>): PanoptesSubjectSet {
  return {
    id: j.id,
    projectId: j.links?.project ?? '',
    displayName: j.display_name,
    metadata: j.metadata,
    setMemberSubjectsCount: j.set_member_subjects_count,
    completeness: Object.fromEntries(Object.entries(j.completeness ?? {}).map(([w, v]) => [w, Number(v)]).filter(([, v]) => Number.isFinite(v))),
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}
function toSubject(j: z.infer<typeof SubjectJson>): PanoptesSubject {
  return {
    id: j.id,
    projectId: j.links?.project ?? '',
    externalId: j.external_id ?? null,
    locations: j.locations ?? [],
    metadata: j.metadata,
    subjectSetIds: j.links?.subject_sets ?? [],
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}
function toImport(j: z.infer<typeof ImportJson>): PanoptesSubjectSetImport {
  const processed = j.imported_count + j.failed_count;
  const done = j.manifest_count !== null && processed >= j.manifest_count;
  return {
    id: j.id,
    subjectSetId: j.links?.subject_set ?? '',
    sourceUrl: j.source_url ?? '',
    manifestCount: j.manifest_count,
    importedCount: j.imported_count,
    failedCount: j.failed_count,
    progress: j.progress ?? (j.manifest_count === null ? 0 : j.manifest_count === 0 ? 1 : Math.min(1, processed / j.manifest_count)),
    state: done ? 'completed' : processed === 0 ? 'pending' : 'running',
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}

export class PanoptesHttpClient implements PanoptesClient {
  private readonly api: string;
  private readonly host: string;
  private readonly tokens: ClientCredentialsToken;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly pageSize: number;
  private readonly linkChunk: number;
  private readonly userAgent: string;
  private readonly now: () => number;

  constructor(opts: PanoptesHttpClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new ValidationError('the Zooniverse base URL is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('the Zooniverse base URL must be http(s)');
    const root = url.toString().replace(/\/+$/, '');
    this.api = `${root}/api`;
    this.host = url.host;
    this.now = opts.now ?? Date.now;
    this.retry = {
      maxAttempts: opts.maxAttempts ?? 5,
      backoff: { baseDelayMs: opts.baseDelayMs ?? 1_000, maxDelayMs: opts.maxDelayMs ?? 30_000, jitter: 'full' },
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 120_000,
      sleep: opts.sleep ?? ((ms) => delay(ms).then(() => undefined)),
      onRetry: opts.onRetry && ((n) => opts.onRetry!({ ...n, upstream: 'zooniverse' })),
      random: opts.random ?? Math.random,
      giveUp: exhausted,
    };
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_PAGE_SIZE));
    this.linkChunk = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.linkChunkSize ?? 100));
    this.userAgent = opts.userAgent ?? 'rsp-zooniverse-bridge';
    this.tokens = new ClientCredentialsToken({
      tokenUrl: `${root}/oauth/token`,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      scope: opts.scope ?? 'public user project subject',
      now: this.now,
      timeoutMs: this.timeoutMs,
      userAgent: this.userAgent,
    });
  }

  // ------------------------------------------------------------ users and projects

  async me(): Promise<PanoptesUser> {
    const a = await this.send({ method: 'GET', path: '/me', what: 'reading the account' });
    return toUser(this.one(a, 'users', UserJson));
  }

  async getProject(id: string): Promise<PanoptesProject> {
    const a = await this.send({ method: 'GET', path: `/projects/${idPart(id, 'project')}`, what: `reading project ${id}` });
    return toProject(this.one(a, 'projects', ProjectJson));
  }

  // ------------------------------------------------------------ subject sets

  async createSubjectSet(input: { projectId: string; displayName: string; metadata?: Record<string, unknown> }): Promise<PanoptesSubjectSet> {
    if (!input.displayName.trim()) throw new ValidationError('a subject set needs a display name');
    const a = await this.send({
      method: 'POST',
      path: '/subject_sets',
      body: { subject_sets: { display_name: input.displayName, metadata: input.metadata ?? {}, links: { project: idPart(input.projectId, 'project') } } },
      what: `creating subject set '${input.displayName}'`,
      creates: 'createSubjectSet',
    });
    return toSet(this.one(a, 'subject_sets', SubjectSetJson));
  }

  async getSubjectSet(id: string): Promise<PanoptesSubjectSet> {
    return toSet(this.one(await this.readSet(id), 'subject_sets', SubjectSetJson));
  }

  async findSubjectSets(query: { projectId: string; displayName?: string }): Promise<PanoptesSubjectSet[]> {
    const out: PanoptesSubjectSet[] = [];
    const q = { project_id: idPart(query.projectId, 'project'), display_name: query.displayName, sort: 'id' };
    for await (const j of this.paginate('/subject_sets', 'subject_sets', q, SubjectSetJson, 'listing subject sets')) out.push(toSet(j));
    return out;
  }

  // ------------------------------------------------------------ subjects

  async createSubject(input: NewSubject): Promise<PanoptesSubject> {
    if (input.locations.length === 0) throw new ValidationError('a subject needs at least one location');
    for (const loc of input.locations) {
      const keys = Object.keys(loc);
      if (keys.length !== 1 || typeof loc[keys[0]] !== 'string') throw new ValidationError('each subject location maps exactly one mime type to one URL');
    }
    const links: Record<string, unknown> = { project: idPart(input.projectId, 'project') };
    if (input.subjectSetIds?.length) links.subject_sets = input.subjectSetIds.map((s) => idPart(s, 'subject set'));
    const subject: Record<string, unknown> = { locations: input.locations, metadata: input.metadata, links };
    if (input.externalId !== undefined) subject.external_id = input.externalId;
    const a = await this.send({
      method: 'POST',
      path: '/subjects',
      body: { subjects: subject },
      what: input.externalId !== undefined ? `creating subject '${input.externalId}'` : 'creating a subject',
      creates: 'createSubject',
    });
    return toSubject(this.one(a, 'subjects', SubjectJson));
  }

  async getSubject(id: string): Promise<PanoptesSubject> {
    const a = await this.send({ method: 'GET', path: `/subjects/${idPart(id, 'subject')}`, what: `reading subject ${id}` });
    return toSubject(this.one(a, 'subjects', SubjectJson));
  }

  async *findSubjects(query: SubjectQuery): AsyncIterable<PanoptesSubject> {
    if (!query.subjectSetId && !query.projectId && !query.ids?.length) {
      throw new ValidationError('findSubjects needs a subject set, a project or subject ids: Panoptes cannot filter on anything else');
    }
    const wanted = query.externalIds ? new Set(query.externalIds) : undefined;
    if (wanted?.size === 0) return;
    const meta = query.metadata ? Object.entries(query.metadata) : [];
    const base = {
      subject_set_id: query.subjectSetId === undefined ? undefined : idPart(query.subjectSetId, 'subject set'),
      project_id: query.projectId === undefined ? undefined : idPart(query.projectId, 'project'),
      sort: 'id',
    };
    // The id filter goes in the URL: keep each listing's URL short.
    const idChunks = query.ids?.length ? chunk([...new Set(query.ids.map((i) => idPart(i, 'subject')))], MAX_PAGE_SIZE) : [undefined];
    for (const ids of idChunks) {
      for await (const j of this.paginate('/subjects', 'subjects', { ...base, id: ids?.join(',') }, SubjectJson, 'listing subjects')) {
        const s = toSubject(j);
        if (wanted && (s.externalId === null || !wanted.has(s.externalId))) continue;
        if (meta.some(([k, v]) => !(k in s.metadata) || String(s.metadata[k]) !== String(v))) continue;
        yield s;
      }
    }
  }

  async linkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(subjectSetId, 'subject set');
    // A repeated id in one request is refused (422) by Panoptes' count check.
    const ids = [...new Set(subjectIds.map((i) => idPart(i, 'subject')))];
    for (const part of chunk(ids, this.linkChunk)) {
      await this.send({
        method: 'POST',
        path: `/subject_sets/${set}/links/subjects`,
        body: { subjects: part },
        what: `linking ${part.length} subjects to subject set ${set}`,
        onConflict: () => this.readSet(set),
      });
    }
  }

  async unlinkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(subjectSetId, 'subject set');
    const ids = [...new Set(subjectIds.map((i) => idPart(i, 'subject')))];
    for (const part of chunk(ids, this.linkChunk)) {
      await this.withFreshEtag(`/subject_sets/${set}`, `subject set ${set}`, (etag) =>
        this.send({
          method: 'DELETE',
          path: `/subject_sets/${set}/links/subjects/${part.join(',')}`,
          ifMatch: etag,
          what: `unlinking ${part.length} subjects from subject set ${set}`,
          onConflict: () => this.readSet(set),
        }),
      );
    }
  }

  async deleteSubject(id: string): Promise<'deleted' | 'absent'> {
    const sid = idPart(id, 'subject');
    try {
      await this.withFreshEtag(`/subjects/${sid}`, `subject ${sid}`, async (etag) => {
        try {
          await this.send({ method: 'DELETE', path: `/subjects/${sid}`, ifMatch: etag, what: `deleting subject ${sid}` });
        } catch (e) {
          // It was there a moment ago: an earlier attempt of ours that lost its answer took it.
          if (e instanceof PanoptesNotFound) return;
          throw e;
        }
      });
      return 'deleted';
    } catch (e) {
      if (e instanceof PanoptesNotFound) return 'absent';
      throw e;
    }
  }

  // ------------------------------------------------------------ imports

  async createSubjectSetImport(input: { subjectSetId: string; sourceUrl: string }): Promise<PanoptesSubjectSetImport> {
    let url: URL;
    try {
      url = new URL(input.sourceUrl);
    } catch {
      throw new ValidationError('the manifest URL is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('Panoptes can only fetch a manifest over http(s)');
    const set = idPart(input.subjectSetId, 'subject set');
    const a = await this.send({
      method: 'POST',
      path: '/subject_set_imports',
      body: { subject_set_imports: { source_url: input.sourceUrl, links: { subject_set: set } } },
      what: `starting an import into subject set ${set}`,
      creates: 'createSubjectSetImport',
    });
    return toImport(this.one(a, 'subject_set_imports', ImportJson));
  }

  async getSubjectSetImport(id: string): Promise<PanoptesSubjectSetImport> {
    const a = await this.send({ method: 'GET', path: `/subject_set_imports/${idPart(id, 'import')}`, what: `reading import ${id}` });
    return toImport(this.one(a, 'subject_set_imports', ImportJson));
  }

  async findSubjectSetImports(query: { subjectSetId: string }): Promise<PanoptesSubjectSetImport[]> {
    const out: PanoptesSubjectSetImport[] = [];
    const q = { subject_set_id: idPart(query.subjectSetId, 'subject set'), sort: 'id' };
    for await (const j of this.paginate('/subject_set_imports', 'subject_set_imports', q, ImportJson, 'listing imports')) out.push(toImport(j));
    return out;
  }

  // ------------------------------------------------------------ paging

  /** Every item of a listing, page by page, as Panoptes' meta.<type> says. */
  async *paginate<S extends z.ZodType>(path: string, key: string, query: Record<string, string | undefined>, schema: S, what: string): AsyncGenerator<z.output<S>> {
    let page = 1;
    for (;;) {
      const a = await this.send({ method: 'GET', path, query: { ...query, page: String(page), page_size: String(this.pageSize) }, what: `${what} (page ${page})` });
      const body = a.body as Record<string, unknown> | null;
      const items = z.array(schema).safeParse(body?.[key]);
      if (!items.success) throw new PanoptesUnreadable(`Panoptes (${this.host}) sent a ${key} listing this client cannot read: ${z.prettifyError(items.error)}`);
      for (const item of items.data) yield item;
      const meta = PageMeta.safeParse((body?.meta as Record<string, unknown> | undefined)?.[key]);
      if (!meta.success) throw new PanoptesUnreadable(`Panoptes (${this.host}) sent a ${key} listing without paging information.`);
      const next = meta.data.next_page ?? (meta.data.next_href ? page + 1 : undefined);
      if (next === undefined) return;
      if (next <= page) throw new UpstreamError(`Panoptes (${this.host}) pointed the ${key} listing back to page ${next} from page ${page}.`);
      page = next;
    }
  }

  // ------------------------------------------------------------ HTTP

  private readSet(id: string): Promise<Answer> {
    return this.send({ method: 'GET', path: `/subject_sets/${id}`, what: `reading subject set ${id}` });
  }

  /** GET for the ETag, then `write` with it as If-Match; a 412 reads again. */
  private async withFreshEtag<T>(path: string, label: string, write: (etag: string) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      const read = await this.send({ method: 'GET', path, what: `reading ${label}` });
      if (!read.etag) throw new UpstreamError(`Panoptes (${this.host}) sent ${label} without an ETag, so it cannot be changed safely.`);
      try {
        return await write(read.etag);
      } catch (e) {
        if (!(e instanceof StaleEtag)) throw e;
        if (n > MAX_STALE_RETRIES) throw new PanoptesConflict(`${label} kept changing while the bridge tried to change it (HTTP 412 ${n} times).`);
      }
    }
  }

  /**
   * `call` with retries. A 401 (a new token is fetched once) and a 409 that
   * `onConflict` can answer (up to MAX_STALE_RETRIES times) are sent again
   * within the same attempt: neither did anything on the server.
   */
  private send(call: Call): Promise<Answer> {
    let refreshed = false;
    let conflicts = 0;
    return retrying(
      `Panoptes (${this.host}): ${call.what}`,
      async () => {
        for (;;) {
          try {
            return await this.once(call);
          } catch (e) {
            if (e instanceof Unauthorized) {
              if (refreshed) throw new PanoptesRefused(`Panoptes (${this.host}) refused a freshly issued token while ${call.what}: ${e.message}`, 'credentials', { status: 401 });
              refreshed = true;
              this.tokens.invalidate(e.token);
              continue;
            }
            if (e instanceof Conflict && call.onConflict && conflicts < MAX_STALE_RETRIES) {
              conflicts++;
              await this.retry.sleep(backoffDelay(conflicts, this.retry.backoff, this.retry.random));
              await call.onConflict();
              continue;
            }
            throw e;
          }
        }
      },
      this.retry,
    );
  }

  private async once(call: Call): Promise<Answer> {
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (e) {
      // The token endpoint's own troubles pass like any other: nothing was sent to the API.
      if (e instanceof UpstreamError) throw new TransientFailure(e.message, e.retryAfterMs);
      throw e;
    }
    const headers: Record<string, string> = { accept: ACCEPT, authorization: `Bearer ${token}`, 'user-agent': this.userAgent };
    let body: string | undefined;
    if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.body);
    }
    if (call.method === 'PUT' || call.method === 'DELETE') {
      if (!call.ifMatch) throw new Error(`${call.method} ${call.path} needs an If-Match`);
      headers['if-match'] = call.ifMatch;
    }
    const url = new URL(this.api + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, v);

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    timer.unref?.();
    try {
      let res: Response;
      try {
        res = await fetch(url, { method: call.method, headers, body, signal: controller.signal, redirect: 'manual' });
      } catch (e) {
        throw this.lost(call, e, timedOut, 'before any answer');
      }
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        throw this.lost(call, e, timedOut, `after HTTP ${res.status}, while the answer was read`);
      }
      let json: unknown = null;
      if (text) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      if (res.status >= 200 && res.status < 300) {
        if (json === undefined) {
          if (call.creates) throw this.ambiguous(call, `HTTP ${res.status} with an answer that is not JSON`);
          throw new TransientFailure(`HTTP ${res.status} with an answer that is not JSON`);
        }
        return { status: res.status, body: json, etag: res.headers.get('etag') ?? undefined };
      }
      throw this.failure(call, res, json, text, token);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The connection failed or timed out: did the request reach Panoptes? */
  private lost(call: Call, e: unknown, timedOut: boolean, when: string): Error {
    const code = timedOut ? 'timeout' : networkErrorCode(e);
    const what = timedOut ? `no complete answer within ${this.timeoutMs / 1000} s` : `the connection failed ${when} (${code})`;
    if (NOT_SENT.has(code)) return new TransientFailure(what, undefined, { code });
    if (call.creates) return this.ambiguous(call, what);
    return new TransientFailure(what, undefined, { code });
  }

  private ambiguous(call: Call, why: string, status?: number): AmbiguousRequestError {
    const look =
      call.creates === 'createSubject'
        ? 'list the subject set (or project) and match external_id before creating it again'
        : call.creates === 'createSubjectSet'
          ? 'look for the set by display name before creating it again'
          : 'list the subject set\'s imports (re-importing is safe: external_id upserts)';
    return new AmbiguousRequestError(`Panoptes (${this.host}) may or may not have done it: ${call.what} got ${why}. Do not resend it blindly: ${look}.`, call.creates!, undefined, status === undefined ? {} : { status });
  }

  /** The error for a non-2xx answer. */
  private failure(call: Call, res: Response, json: unknown, text: string, token: string): Error {
    const status = res.status;
    const said = this.panoptesMessage(json, text, token);
    const suffix = said ? `: ${said}` : '';
    const head = `Panoptes (${this.host}) answered HTTP ${status} to ${call.what}${suffix}`;
    const detail = { status, panoptesMessage: said || undefined };
    if (status === 401) return new Unauthorized(said || 'the token was rejected', token);
    if (status === 409) return new Conflict(`HTTP 409${suffix}`, undefined, detail);
    const again = transientAnswer(res, TRANSIENT, this.now());
    if (again) {
      // Both are answered before the action runs: safe to retry, creates included.
      if (status === 429 || status === 503) return new Throttled(`HTTP ${status}${suffix}`, again.retryAfterMs, detail);
      return call.creates ? this.ambiguous(call, `HTTP ${status}${suffix}`, status) : new TransientFailure(`HTTP ${status}${suffix}`, undefined, detail);
    }
    if (status === 412) return new StaleEtag(head);
    if (status === 403) {
      const m = LIMIT_MESSAGE.exec(said);
      if (m) return new SubjectLimitError(`${head}. The account's subject limit is reached; deleting subjects does not free any, ask Zooniverse to raise it.`, Number(m[1]), Number(m[2]));
      return new PanoptesRefused(`${head}.`, 'forbidden', detail);
    }
    if (status === 404) return new PanoptesNotFound(`${head}.`, detail);
    if (status === 415 || status === 428) return new PanoptesRefused(`${head}. This is a bug in the bridge's Panoptes client.`, 'other', detail);
    if (status >= 300 && status < 400) return new PanoptesRefused(`${head}; check the Zooniverse base URL.`, 'other', detail);
    return new PanoptesRefused(`${head}.`, refusalOf(status), detail);
  }

  private panoptesMessage(json: unknown, text: string, token: string): string {
    let msg = '';
    const errors = (json as { errors?: unknown } | null | undefined)?.errors;
    if (Array.isArray(errors)) {
      msg = errors
        .map((e) => (typeof e === 'string' ? e : typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : ''))
        .filter(Boolean)
        .join('; ');
    } else if (json === undefined) {
      msg = text.trim().slice(0, 300);
    }
    if (token.length >= 4) msg = msg.split(token).join('[redacted]');
    return msg.length > 500 ? `${msg.slice(0, 500)}...` : msg;
  }

  /** The single resource of a show or create answer. */
  private one<S extends z.ZodType>(a: Answer, key: string, schema: S): z.output<S> {
    const list = (a.body as Record<string, unknown> | null)?.[key];
    const parsed = schema.safeParse(Array.isArray(list) ? list[0] : undefined);
    if (!parsed.success) throw new PanoptesUnreadable(`Panoptes (${this.host}) sent a ${key} resource this client cannot read: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }
}

/** Panoptes ids are integers; anything else would only earn a 404 or 422 later. */
function idPart(id: string, what: string): string {
  const s = String(id).trim();
  if (!/^\d+$/.test(s)) throw new ValidationError(`'${id}' is not a Panoptes ${what} id`);
  return s;
}

/** The port's error for a call whose attempts ran out, by the kind of its last failure. */
function exhausted(message: string, last: TransientFailure, attempts: number): Error {
  const detail = { attempts, ...last.detail };
  if (last instanceof Throttled) return new PanoptesRateLimited(message, last.retryAfterMs, detail);
  if (last instanceof Conflict) return new PanoptesConflict(message, last.retryAfterMs, detail);
  return new UpstreamError(message, last.retryAfterMs, detail);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
