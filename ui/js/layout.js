// @ts-check
// Grid (image first, details in the viewer) or list (a row per image with
// its details): the reviewer's choice, remembered in this browser.

import { els } from './elements.js';

const KEY = 'bridge.review.layout';

/** @param {'grid' | 'list'} mode */
function apply(mode) {
  els.cards.classList.toggle('list', mode === 'list');
  els.layoutGrid.setAttribute('aria-pressed', String(mode === 'grid'));
  els.layoutList.setAttribute('aria-pressed', String(mode === 'list'));
  try {
    localStorage.setItem(KEY, mode);
  } catch {
    // Storage may be off (private mode): the choice lasts for this page only.
  }
}

export function wireLayout() {
  let saved = 'grid';
  try {
    saved = localStorage.getItem(KEY) ?? 'grid';
  } catch {
    // as above
  }
  apply(saved === 'list' ? 'list' : 'grid');
  els.layoutGrid.addEventListener('click', () => apply('grid'));
  els.layoutList.addEventListener('click', () => apply('list'));
}
