// @ts-check
// The PI page's status line (role=status): results and errors, read out by screen readers.

import { h } from '../dom.js';

let timer = 0;

/**
 * @param {string | string[]} message a summary, then detail lines
 * @param {'info' | 'ok' | 'error'} [kind]
 */
export function say(message, kind = 'info') {
  const box = document.getElementById('pi-status');
  if (!box) return;
  clearTimeout(timer);
  box.textContent = '';
  box.dataset.kind = kind;
  const lines = Array.isArray(message) ? message : [message];
  // Cleared first, filled a moment later, so a repeated message is announced again.
  timer = setTimeout(() => {
    box.replaceChildren(...lines.map((line, i) => h('p', { class: i === 0 ? 'status-main' : 'status-detail', text: line })));
  }, 30);
}
