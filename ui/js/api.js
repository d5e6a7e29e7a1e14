// @ts-check
// The client of the bridge's JSON API: same-origin session cookie, the CSRF
// header on writes, and problem+json errors turned into readable messages.

import { csrfToken } from './session.js';

export const API = '/api/v1';

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the bridge could not be reached
   * @param {import('./types.js').Problem} [problem]
   */
  constructor(status, problem) {
    const title = problem?.title || (status ? `Request failed (HTTP ${status})` : 'Request failed');
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem ?? {};
  }
}

/**
 * A request superseded by a newer one was aborted: not an error to show.
 * @param {unknown} err
 */
export function isAbortError(err) {
  return /** @type {{ name?: unknown } | null | undefined} */ (err)?.name === 'AbortError';
}

/**
 * The message of what a request (or the code handling its answer) threw.
 * @param {unknown} err
 */
export function messageOf(err) {
  return /** @type {Error} */ (err).message;
}

/**
 * The JSON answer, typed by the caller (it is the server's to keep to the
 * shapes in types.js); null for 204 No Content.
 * @template [T=unknown]
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [options]
 * @returns {Promise<T | null>}
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json, application/problem+json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = csrfToken;
  }
  /** @type {Response} */
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (isAbortError(err)) throw err;
    throw new ApiError(0, { title: 'Network error', detail: 'the bridge could not be reached; check your connection and try again' });
  }
  const type = res.headers.get('content-type') ?? '';
  const isJson = /\bjson\b/i.test(type);
  if (!res.ok) {
    /** @type {import('./types.js').Problem} */
    let problem = {};
    if (isJson) {
      try { problem = await res.json(); } catch { /* keep empty */ }
    }
    if (res.status === 401 && !problem.title) problem.title = 'Signed out';
    if (res.status === 401 && !problem.detail) problem.detail = 'your session has ended; reload the page to sign in again';
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  if (!isJson) {
    // A redirect to a login page lands here.
    throw new ApiError(res.status, { title: 'Signed out', detail: 'the bridge did not answer with data; reload the page to sign in again' });
  }
  return res.json();
}

/**
 * Every item of a paged listing (`{ items, next }`), following `next` until
 * the server says there is no more. For pickers that must show them all.
 * @template T
 * @param {string} path a listing path, with or without a query
 * @returns {Promise<T[]>}
 */
export async function allPages(path) {
  /** @type {T[]} */
  const out = [];
  /** @type {string | null | undefined} */
  let next = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    /** @type {{ items?: T[], next?: string | null } | null} */
    const page = await api(next ? `${path}${sep}after=${encodeURIComponent(next)}` : path);
    out.push(...(Array.isArray(page?.items) ? page.items : []));
    next = page?.next;
  } while (next);
  return out;
}
