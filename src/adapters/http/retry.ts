import { UpstreamError } from '../../domain/errors.js';

/*
 * Trying an HTTP request again: which failures are worth another attempt,
 * how long to wait before it, and when to stop. Shared by the Butler, the
 * Panoptes and the Zooniverse token clients, which differ only in the
 * parameters (attempts, delays, which statuses pass).
 *
 * A wait the server asks for (Retry-After) replaces our own backoff, because
 * the server knows when it will be ready and we do not. A wait longer than
 * the client is willing to sleep in-process is not slept at all: the attempt
 * loop gives up at once and the final UpstreamError carries retryAfterMs, so
 * the job layer (which can wait without holding a worker) schedules the
 * retry instead.
 */

/** One failed attempt that another attempt may fix. Anything else thrown by an attempt ends the loop as it is. */
export class TransientFailure extends Error {
  constructor(
    message: string,
    /** How long the server asked us to wait, if it did. */
    readonly retryAfterMs?: number,
    /** Merged into the detail of the error thrown when the attempts run out. */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Backoff {
  /** The wait after the first failure, before jitter; it doubles with each attempt. */
  baseDelayMs: number;
  /** The doubling stops here. Default: no cap. */
  maxDelayMs?: number;
  /**
   * 'full' draws from [0, step): clients retrying in-process, where spreading
   * a crowd matters more than a floor. 'upper-half' draws from [step/2,
   * step): the job layer, where a job should not come back almost at once.
   */
  jitter: 'full' | 'upper-half';
}

/** Exponential backoff with jitter before retry `attempt` (1 = the retry after the first failure). */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const step = Math.min(b.maxDelayMs ?? Infinity, b.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return b.jitter === 'full' ? Math.floor(random() * step) : Math.floor(step / 2 + random() * (step / 2));
}

/**
 * Retry-After values beyond this are read as this. A server (or a proxy)
 * that asks for days is broken, and honouring it would park the job out of
 * sight; a day keeps it visible and still backs off hard.
 */
export const RETRY_AFTER_CAP_MS = 24 * 60 * 60_000;

/**
 * A Retry-After header in ms from `nowMs`: delta-seconds or an HTTP-date (a
 * date in the past is 0), at most `capMs`. Undefined when absent or
 * unreadable, so the caller falls back to its own backoff.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number, capMs = RETRY_AFTER_CAP_MS): number | undefined {
  const h = header?.trim();
  if (!h) return undefined;
  let ms: number;
  if (/^\d+$/.test(h)) ms = Number(h) * 1000;
  else {
    const at = Date.parse(h);
    if (!Number.isFinite(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, capMs);
}

/**
 * Which non-2xx answers a client tries again. Every 5xx is, in every client;
 * which 4xx are, and whose Retry-After is obeyed, differs from client to
 * client (storage's Retry-After is obeyed on any of them, the Butler API's
 * only on 429 and 503), so each names its own.
 */
export interface TransientStatuses {
  /** Statuses below 500 worth another attempt, e.g. 408, 429. */
  below500: ReadonlySet<number>;
  /** The transient statuses whose Retry-After is obeyed; 'all' for every one of them. */
  retryAfter: ReadonlySet<number> | 'all';
}

/**
 * Undefined when `res` is not worth another attempt; otherwise the wait its
 * server asked for (undefined inside when it asked for none).
 */
export function transientAnswer(res: Response, statuses: TransientStatuses, nowMs: number): { retryAfterMs: number | undefined } | undefined {
  const s = res.status;
  if (s < 500 && !statuses.below500.has(s)) return undefined;
  const obeyed = statuses.retryAfter === 'all' || statuses.retryAfter.has(s);
  return { retryAfterMs: obeyed ? parseRetryAfter(res.headers.get('retry-after'), nowMs) : undefined };
}

/**
 * The most telling code of a failed fetch (ECONNRESET, UND_ERR_SOCKET, ...):
 * undici puts the socket's error in `cause`. 'timeout' for an aborted or
 * timed-out request.
 */
export function networkErrorCode(e: unknown): string {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = cur as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof c.code === 'string') return c.code;
    if (c.name === 'TimeoutError' || c.name === 'AbortError') return 'timeout';
    cur = c.cause;
  }
  return 'network error';
}

/** One failed attempt about to be tried again (or the last, given up), for logs and metrics. */
export interface RetryNotice {
  /** What was being done, as the final error would say it. */
  what: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  /** The wait before the next attempt; null when the loop gives up. */
  waitMs: number | null;
  /** Why the attempt failed, in words. */
  reason: string;
  /** A short class for counting: http_503, ECONNRESET, timeout, cut_stream, bad_answer, ... */
  errorClass: string;
}

/** A retry notice as a client reports it: which upstream it called. */
export type UpstreamRetryNotice = RetryNotice & { upstream: 'butler' | 'storage' | 'zooniverse' };

/** The class a failure counts under: the status or network code it carries, else what its message says. */
export function errorClass(f: TransientFailure): string {
  const d = f.detail as { status?: unknown; code?: unknown; kind?: unknown };
  if (typeof d.kind === 'string') return d.kind;
  if (typeof d.status === 'number') return `http_${d.status}`;
  if (typeof d.code === 'string') return d.code;
  const m = /^HTTP (\d{3})/.exec(f.message);
  return m ? `http_${m[1]}` : 'other';
}

export interface RetryPolicy {
  /** Attempts in all, the first included; at least 1. */
  maxAttempts: number;
  backoff: Backoff;
  /** A Retry-After longer than this ends the loop: the job layer waits it out instead. */
  maxRetryAfterMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  random: () => number;
  /**
   * The error thrown when the attempts run out. Default: an UpstreamError
   * with `message`, the last failure's retryAfterMs, and
   * { attempts, ...last.detail } as detail.
   */
  giveUp?: (message: string, last: TransientFailure, attempts: number) => Error;
  /** Told of every failed attempt: the composition root logs it and counts it. */
  onRetry?: (n: RetryNotice) => void;
}

/**
 * `attempt` until it succeeds, throws something other than a
 * TransientFailure (thrown on as it is), or the policy says stop. Then an
 * error saying "<what> failed after N attempts: <last failure>."
 */
export async function retrying<T>(what: string, attempt: (n: number) => Promise<T>, p: RetryPolicy): Promise<T> {
  const max = Math.max(1, p.maxAttempts);
  let last: TransientFailure | undefined;
  let made = 0;
  for (let n = 1; n <= max; n++) {
    made = n;
    try {
      return await attempt(n);
    } catch (e) {
      if (!(e instanceof TransientFailure)) throw e;
      last = e;
      const stop = n === max || (e.retryAfterMs !== undefined && e.retryAfterMs > p.maxRetryAfterMs);
      const wait = stop ? null : (e.retryAfterMs ?? backoffDelay(n, p.backoff, p.random));
      p.onRetry?.({ what, attempt: n, waitMs: wait, reason: e.message, errorClass: errorClass(e) });
      if (wait === null) break;
      await p.sleep(wait);
    }
  }
  const tries = made === 1 ? '1 attempt' : `${made} attempts`;
  const message = `${what} failed after ${tries}: ${last!.message}.`;
  throw p.giveUp ? p.giveUp(message, last!, made) : new UpstreamError(message, last!.retryAfterMs, { attempts: made, ...last!.detail });
}
