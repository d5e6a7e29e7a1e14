// @ts-check
// The header every page shares (written by the server, src/api/review-page.ts): who is signed in and their roles, the logout form's CSRF
// token, and the links to pages the user's roles open (the API still
// decides what each may do).

import { h } from './dom.js';
import { csrfToken, user } from './session.js';

export function fillHeader() {
  const name = document.getElementById('user-name');
  if (name) name.textContent = user.username || 'unknown user';
  document.getElementById('user-roles')?.replaceChildren(...user.roles.map((r) => h('span', { class: 'role', text: r })));
  const logout = document.getElementById('logout-csrf');
  if (logout instanceof HTMLInputElement) logout.value = csrfToken;
  for (const link of document.querySelectorAll('[data-role]')) {
    if (link instanceof HTMLElement) link.hidden = !user.roles.includes(link.dataset.role ?? '');
  }
}
