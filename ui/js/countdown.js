// @ts-check
// The publishing delay on the page: an approved image shows when it will be
// published, counting down, with Undo until then. One timer updates every
// countdown on the page.

import { h } from './dom.js';

/** @typedef {import('./types.js').ReviewImage} ReviewImage */

/** @param {number} ms */
export function untilText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** @param {ReviewImage} img */
export function inDelay(img) {
  return img.state === 'approved' && typeof img.publishAfter === 'string' && Date.parse(img.publishAfter) > Date.now();
}

/**
 * "Publishes in 9:41" and an Undo button, for an approved image inside its delay.
 * @param {ReviewImage} img
 * @param {boolean} withUndo the reviewer may undo it
 */
export function countdownNode(img, withUndo) {
  if (!inDelay(img)) return null;
  const until = String(img.publishAfter);
  return h('p', { class: 'countdown' },
    h('span', { class: 'countdown-text', dataset: { until } }, `Publishes in ${untilText(Date.parse(until) - Date.now())}`),
    withUndo ? h('button', { type: 'button', class: 'btn btn-small undo-one', tabindex: '-1', dataset: { imageId: img.id }, text: 'Undo approval' }) : null);
}

function tick() {
  for (const el of document.querySelectorAll('.countdown-text[data-until]')) {
    if (!(el instanceof HTMLElement)) continue;
    const left = Date.parse(el.dataset.until ?? '') - Date.now();
    el.textContent = left > 0 ? `Publishes in ${untilText(left)}` : 'Publishing now';
    if (left <= 0) {
      el.removeAttribute('data-until');
      el.closest('.countdown')?.querySelector('.undo-one')?.remove();
    }
  }
}

export function startCountdowns() {
  setInterval(tick, 1000);
}
