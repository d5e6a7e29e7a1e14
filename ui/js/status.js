// @ts-check
// The status line: what happened, read out by screen readers.

import { h } from './dom.js';
import { els } from './elements.js';

let statusTimer = 0;

/**
 * Writes to the aria-live region; clearing first makes repeated messages announce again.
 * @param {string | string[]} message a summary, then detail lines
 * @param {'info' | 'ok' | 'error'} [kind]
 */
export function say(message, kind = 'info') {
  clearTimeout(statusTimer);
  els.status.textContent = '';
  els.status.dataset.kind = kind;
  const lines = Array.isArray(message) ? message : [message];
  statusTimer = setTimeout(() => {
    els.status.replaceChildren(...lines.map((line, i) => h('p', { class: i === 0 ? 'status-main' : 'status-detail', text: line })));
  }, 30);
}
