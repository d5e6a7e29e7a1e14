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
  type PanoptesOperation,
} from '../../domain/ports/panoptes-client.js';
import { TransientFailure, backoffDelay, networkErrorCode, retrying, transientAnswer, type RetryPolicy, type TransientStatuses, type UpstreamRetryNotice } from '../http/retry.js';
import { ClientCredentialsToken } from './oauth-token.js';
import { readPages } from './panoptes-paging.js';
import { refusalOf } from './refusal.js';

/*
 * The one request path to Panoptes' API (shared/reference/zooniverse.md):
 * token, Accept header, retries, ambiguity. Shared by the upload client
 * (panoptes-client.ts) and the results loop's adapters
 * (classification-source.ts, zooniverse-effects.ts), so none has a copy.
 *
 * Reads and harmless writes are retried (backoff with jitter on network
 * errors, 409 and 5xx; Retry-After on 429/503). A call marked `creates` (a
 * create, or an effect its caller wants applied exactly once) is retried
 * only when it certainly did nothing: no connection, 401, 409 (rolled back),
 * 429/503 (refused before the action). A timeout, a connection lost after
 * sending, or 500/502/504 may follow a commit (how real projects get
 * duplicates): AmbiguousRequestError, and the caller looks before it sends
 * again. A 401 fetches a new token once per request; a second 401 means the
 * credentials are refused.
 *
 * This is where Panoptes' status numbers become the port's typed errors;
 * nothing past it reads a status.
 */

export interface PanoptesTransportOptions {
  /** Told of each failed attempt (the service logs it at info and counts it for /metrics). */
  onRetry?: (n: UpstreamRetryNotice) => void;
  /** https://www.zooniverse.org or https://panoptes-staging.zooniverse.org; API under /api, tokens at /oauth/token. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated OAuth scopes. Default 'public user project subject'; the results loop also needs 'classification' (listing a project's classifications). */
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
  userAgent?: string;
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const ACCEPT = 'application/vnd.api+json; version=1';
export const MAX_PAGE_SIZE = 100;
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

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Call {
  method: Method;
  /** Under /api, e.g. /subjects/12 */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Required for PUT and DELETE: the ETag of the GET just before. */
  ifMatch?: string;
  /** For messages: "creating a subject". */
  what: string;
  /** Set on creates and once-only effects: an unknown outcome is AmbiguousRequestError, never retried blindly. */
  creates?: PanoptesOperation;
  /** Called before a 409 is retried (the set changed under us: read it again). */
  onConflict?: () => Promise<unknown>;
}

export interface Answer {
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

/** How a caller finds out what an ambiguous request did, for the error's message. */
const RECONCILE: Record<PanoptesOperation, string> = {
  createSubject: 'list the subject set (or project) and match external_id before creating it again',
  createSubjectSet: 'look for the set by display name before creating it again',
  createSubjectSetImport: "list the subject set's imports (re-importing is safe: external_id upserts)",
  retireSubjects: "read the subjects' retirement in the workflow (subject_workflow_statuses) before retiring them again",
  addSubjectsToSet: "list the set's members among these subjects before linking them again",
};

export class PanoptesTransport {
  readonly api: string;
  readonly host: string;
  /** Items per listing page (Panoptes caps it at 100). */
  readonly pageSize: number;
  readonly now: () => number;
  readonly retry: RetryPolicy;
  private readonly tokens: ClientCredentialsToken;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(opts: PanoptesTransportOptions) {
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


  /** Every item of a listing, page by page, in page order (reading ahead: panoptes-paging.ts). */
  paginate<S extends z.ZodType>(path: string, key: string, query: Record<string, string | undefined>, schema: S, what: string): AsyncGenerator<z.output<S>> {
    return readPages(this, path, key, query, schema, what);
  }

  // ------------------------------------------------------------ HTTP


  /** GET for the ETag, then `write` with it as If-Match; a 412 reads again. */
  async withFreshEtag<T>(path: string, label: string, write: (etag: string) => Promise<T>): Promise<T> {
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
  send(call: Call): Promise<Answer> {
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
    const look = RECONCILE[call.creates!];
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
  one<S extends z.ZodType>(a: Answer, key: string, schema: S): z.output<S> {
    const list = (a.body as Record<string, unknown> | null)?.[key];
    const parsed = schema.safeParse(Array.isArray(list) ? list[0] : undefined);
    if (!parsed.success) throw new PanoptesUnreadable(`Panoptes (${this.host}) sent a ${key} resource this client cannot read: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }
}

/** Panoptes ids are integers; anything else would only earn a 404 or 422 later. */
export function idPart(id: string, what: string): string {
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

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
