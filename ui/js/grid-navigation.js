// @ts-check
// Moving around the grid and selecting in it, by keyboard (an ARIA grid:
// arrows, Home/End, Page Up/Down, Space, Enter) and by pointer.

import { els } from './elements.js';
import { focusCard, selectRange, setRoving, toggle } from './selection.js';
import { state } from './state.js';
import { openViewer } from './viewer.js';

/**
 * The card an event happened in, with its image id.
 * @param {EventTarget | null} target
 * @returns {{ card: HTMLElement, id: string } | null}
 */
function cardOf(target) {
  const card = target instanceof Element ? target.closest('.card') : null;
  const id = card instanceof HTMLElement ? card.dataset.imageId : undefined;
  return card instanceof HTMLElement && id !== undefined ? { card, id } : null;
}

/** Cards per visual row, read from layout (the grid reflows with the window). */
function columns() {
  const cards = /** @type {HTMLCollectionOf<HTMLElement>} */ (els.cards.children);
  if (cards.length === 0) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  for (const c of cards) {
    if (c.offsetTop !== top) break;
    n++;
  }
  return Math.max(1, n);
}

/** @param {KeyboardEvent} e */
function onGridKey(e) {
  const hit = cardOf(e.target);
  if (!hit || e.target !== hit.card) return; // let the inner View button behave normally
  const { id } = hit;
  const idx = state.images.findIndex((i) => i.id === id);
  const n = state.images.length;
  if (idx < 0 || e.altKey) return;
  const cols = columns();
  /** @type {number | null} */
  let target = null;
  switch (e.key) {
    case 'ArrowRight': target = Math.min(n - 1, idx + 1); break;
    case 'ArrowLeft': target = Math.max(0, idx - 1); break;
    case 'ArrowDown':
      if (idx + cols < n) target = idx + cols;
      else if (Math.floor(idx / cols) < Math.floor((n - 1) / cols)) target = n - 1;
      else target = idx;
      break;
    case 'ArrowUp': target = idx - cols >= 0 ? idx - cols : idx; break;
    case 'Home': target = e.ctrlKey || e.metaKey ? 0 : idx - (idx % cols); break;
    case 'End': target = e.ctrlKey || e.metaKey ? n - 1 : Math.min(n - 1, idx - (idx % cols) + cols - 1); break;
    case 'PageDown': target = Math.min(n - 1, idx + cols * 3); break;
    case 'PageUp': target = Math.max(0, idx - cols * 3); break;
    case ' ':
    case 'Spacebar':
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) return;
      if (state.readOnly) return;
      if (e.shiftKey && state.anchorId) selectRange(state.anchorId, id);
      else toggle(id);
      return;
    case 'Enter':
      if (e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      openViewer(id);
      return;
    default:
      return;
  }
  e.preventDefault();
  if (target === null) return;
  const targetId = state.images[target].id;
  if (e.shiftKey && !state.readOnly && !e.ctrlKey && !e.metaKey) {
    if (!state.anchorId) state.anchorId = id;
    selectRange(state.anchorId, targetId);
  }
  focusCard(targetId);
}

/**
 * A click selects; in a read-only grid, or on View, it opens the viewer instead.
 * @param {MouseEvent} e
 */
function onGridClick(e) {
  const hit = cardOf(e.target);
  if (!hit) return;
  const { id } = hit;
  setRoving(id);
  if ((e.target instanceof Element && e.target.closest('.view')) || state.readOnly) {
    openViewer(id);
    return;
  }
  if (e.shiftKey && state.anchorId) {
    selectRange(state.anchorId, id);
  } else {
    toggle(id);
  }
}

export function wireGrid() {
  els.cards.addEventListener('click', onGridClick);
  els.cards.addEventListener('keydown', onGridKey);
  els.cards.addEventListener('mousedown', (e) => {
    if (e.shiftKey && cardOf(e.target)) e.preventDefault(); // no text selection on shift+click
  });
  els.cards.addEventListener('focusin', (e) => {
    const hit = cardOf(e.target);
    if (hit) setRoving(hit.id);
  });
}
