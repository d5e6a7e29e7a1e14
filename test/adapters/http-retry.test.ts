import { describe, expect, it } from 'vitest';

import { RETRY_AFTER_CAP_MS, TransientFailure, backoffDelay, networkErrorCode, parseRetryAfter, retrying, transientAnswer, type RetryPolicy } from '../../src/adapters/http/retry.js';
import { UpstreamError } from '../../src/domain/errors.js';
import { failure } from '../support/failure.js';

/** A policy whose sleeps are recorded, not slept. */
function policy(extra: Partial<RetryPolicy> = {}): { p: RetryPolicy; sleeps: number[] } {
  const sleeps: number[] = [];
  const p: RetryPolicy = {
    maxAttempts: 4,
    backoff: { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'full' },
    maxRetryAfterMs: 10_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  };
  return { p, sleeps };
}

/** An attempt that fails with `failures` in turn, then answers 'ok'. */
function scripted(...failures: Error[]): { attempt: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    attempt: async () => {
      const f = failures[n++];
      if (f) throw f;
      return 'ok';
    },
    calls: () => n,
  };
}

describe('retrying', () => {
  it('waits what the server asked for instead of its own backoff', async () => {
    const { p, sleeps } = policy();
    const a = scripted(new TransientFailure('HTTP 429', 2_500), new TransientFailure('HTTP 502'));
    expect(await retrying('reading', a.attempt, p)).toBe('ok');
    // 2.5 s as asked; then the second backoff step (200 ms) with jitter 0.5.
    expect(sleeps).toEqual([2_500, 100]);
  });

  it('gives up at once, without sleeping, when the server asks for longer than it waits in-process', async () => {
    const { p, sleeps } = policy();
    const a = scripted(new TransientFailure('HTTP 503', 60_000, { status: 503 }));
    const e = await failure(retrying('reading', a.attempt, p));
    expect(a.calls()).toBe(1);
    expect(sleeps).toEqual([]);
    expect(e).toBeInstanceOf(UpstreamError);
    // The job layer reads this to schedule the retry.
    expect((e as UpstreamError).retryAfterMs).toBe(60_000);
    expect((e as UpstreamError).detail).toEqual({ attempts: 1, status: 503 });
    expect(e.message).toBe('reading failed after 1 attempt: HTTP 503.');
  });

  it('does not retry what is not transient, and throws it unchanged', async () => {
    const { p, sleeps } = policy();
    const refused = new Error('HTTP 403');
    const a = scripted(refused);
    expect(await failure(retrying('reading', a.attempt, p))).toBe(refused);
    expect(a.calls()).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('stops after maxAttempts with the last failure in the message', async () => {
    const { p, sleeps } = policy({ maxAttempts: 3 });
    const a = scripted(new TransientFailure('HTTP 502'), new TransientFailure('HTTP 504'), new TransientFailure('reset'), new TransientFailure('never sent'));
    const e = await failure(retrying('listing', a.attempt, p));
    expect(a.calls()).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.message).toBe('listing failed after 3 attempts: reset.');
    expect((e as UpstreamError).detail).toEqual({ attempts: 3 });
  });

  it('tries once when maxAttempts is below 1', async () => {
    const { p } = policy({ maxAttempts: 0 });
    const a = scripted(new TransientFailure('HTTP 502'));
    await failure(retrying('reading', a.attempt, p));
    expect(a.calls()).toBe(1);
  });

  it('lets the caller choose the error thrown when the attempts run out', async () => {
    class Busy extends Error {}
    const { p } = policy({ maxAttempts: 2, giveUp: (message, last, attempts) => new Busy(`${message} (${attempts}, ${last.retryAfterMs})`) });
    const e = await failure(retrying('x', scripted(new TransientFailure('a', 5), new TransientFailure('b', 7)).attempt, p));
    expect(e).toBeInstanceOf(Busy);
    expect(e.message).toBe('x failed after 2 attempts: b. (2, 7)');
  });
});

describe('backoffDelay', () => {
  it('doubles per attempt up to the cap, drawn below each step (full jitter)', () => {
    const b = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'full' } as const;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, b, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, b, () => 0)).toBe(0);
  });

  it('stays in the upper half of each step when asked (the job layer)', () => {
    const b = { baseDelayMs: 1_000, jitter: 'upper-half' } as const;
    expect(backoffDelay(3, b, () => 0)).toBe(2_000);
    expect(backoffDelay(3, b, () => 0.999999)).toBe(3_999);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');

  it('reads delta-seconds and HTTP dates; a date in the past means now', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read, so the caller falls back to its own backoff', () => {
    for (const h of [null, undefined, '', '  ', 'soon', 'later, please']) expect(parseRetryAfter(h, now)).toBeUndefined();
  });

  it('caps absurd requests', () => {
    expect(parseRetryAfter('31536000', now)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfter('9'.repeat(400), now)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfter('7200', now, 60_000)).toBe(60_000);
  });
});

describe('transientAnswer', () => {
  const answer = (status: number, retryAfter?: string) => new Response(null, { status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } });
  const api = { below500: new Set([408, 429]), retryAfter: new Set([429, 503]) };

  it('passes every 5xx and the listed 4xx, and nothing else', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) expect(transientAnswer(answer(s), api, 0)).toBeDefined();
    for (const s of [400, 401, 403, 404, 409, 412, 422, 301]) expect(transientAnswer(answer(s), api, 0)).toBeUndefined();
  });

  it('obeys Retry-After only on the statuses named for it', () => {
    expect(transientAnswer(answer(429, '3'), api, 0)).toEqual({ retryAfterMs: 3_000 });
    expect(transientAnswer(answer(502, '3'), api, 0)).toEqual({ retryAfterMs: undefined });
    expect(transientAnswer(answer(502, '3'), { ...api, retryAfter: 'all' }, 0)).toEqual({ retryAfterMs: 3_000 });
  });
});

describe('networkErrorCode', () => {
  it('finds the socket code undici puts in cause, and names timeouts', () => {
    expect(networkErrorCode(new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }))).toBe('ECONNRESET');
    expect(networkErrorCode(new DOMException('The operation timed out.', 'TimeoutError'))).toBe('timeout');
    expect(networkErrorCode(new Error('?'))).toBe('network error');
  });
});
