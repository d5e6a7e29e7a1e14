// @ts-check
// A text body (the extra-metadata CSV) to the API: api.js sends JSON, this
// sends text/csv with the same CSRF header and the same error handling.

import { ApiError } from '../api.js';
import { csrfToken } from '../session.js';

/**
 * @param {string} path
 * @param {string} text
 * @param {string} contentType
 * @returns {Promise<unknown>}
 */
export async function putText(path, text, contentType) {
  /** @type {Response} */
  let res;
  try {
    res = await fetch(path, { method: 'PUT', headers: { 'Content-Type': contentType, 'X-CSRF-Token': csrfToken, Accept: 'application/json, application/problem+json' }, body: text, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, { title: 'Network error', detail: 'the bridge could not be reached; check your connection and try again' });
  }
  /** @type {any} */
  let body = null;
  try { body = await res.json(); } catch { /* no body */ }
  if (!res.ok) throw new ApiError(res.status, body ?? {});
  return body;
}
