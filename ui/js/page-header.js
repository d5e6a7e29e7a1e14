// @ts-check
// The header every page shares: who is signed in, the logout form's CSRF
// token, and the links to pages the user's roles open (the API still
// decides what each may do).

import { csrfToken, user } from './session.js';

export function fillHeader() {
  const name = document.getElementById('user-name');
  if (name) name.textContent = user.username || 'unknown user';
  const logout = document.getElementById('logout-csrf');
  if (logout instanceof HTMLInputElement) logout.value = csrfToken;
  for (const link of document.querySelectorAll('[data-role]')) {
    if (link instanceof HTMLElement) link.hidden = !user.roles.includes(link.dataset.role ?? '');
  }
}
