// @ts-check
// Who is signed in, as the server templated it into the page's meta tags.

import { meta } from './dom.js';

/** @returns {import('./types.js').User} */
function readUser() {
  try {
    /** @type {{ username?: unknown, roles?: unknown } | null} */
    const u = JSON.parse(meta('bridge-user'));
    return {
      username: typeof u?.username === 'string' ? u.username : '',
      roles: Array.isArray(u?.roles) ? u.roles.map(String) : [],
    };
  } catch {
    return { username: '', roles: [] };
  }
}

/** The session's CSRF token: every write sends it, and so does the logout form. */
export const csrfToken = meta('csrf-token');
export const user = readUser();
/** The server decides what is allowed; this only shapes the page (PIs get a read-only view). */
export const isReviewer = user.roles.includes('reviewer') || user.roles.includes('admin');
