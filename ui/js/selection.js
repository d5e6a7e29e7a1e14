// @ts-check
// Which images are selected, which card has the grid's focus, and the
// toolbar that acts on the selection.

import { canApply, notDecidableBecause } from './decidable.js';
import { els } from './elements.js';
import { plural } from './format.js';
import { state } from './state.js';
import { say } from './status.js';

/**
 * Read-only grids drop aria-selected altogether: nothing there can be selected.
 * @param {HTMLElement} card
 * @param {string} id
 */
export function syncSelected(card, id) {
  if (state.readOnly) {
    card.removeAttribute('aria-selected');
    return;
  }
  card.setAttribute('aria-selected', state.selected.has(id) ? 'true' : 'false');
}

/**
 * @param {string} id
 * @param {boolean} on
 */
export function setSelected(id, on) {
  const img = state.imageById.get(id);
  if (state.readOnly || !img) return;
  // No decision applies to it (policy-rejected, held, published, your own): it cannot be selected.
  if (on && notDecidableBecause(img)) return;
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  const card = state.cardById.get(id);
  if (card) syncSelected(card, id);
}

/** @param {string} id */
export function toggle(id) {
  setSelected(id, !state.selected.has(id));
  state.anchorId = id;
  updateToolbar();
}

/**
 * @param {string} fromId
 * @param {string} toId
 */
export function selectRange(fromId, toId) {
  const a = state.images.findIndex((i) => i.id === fromId);
  const b = state.images.findIndex((i) => i.id === toId);
  if (a < 0 || b < 0) {
    setSelected(toId, true);
  } else {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    for (let i = lo; i <= hi; i++) setSelected(state.images[i].id, true);
  }
  updateToolbar();
}

export function selectAll() {
  if (state.readOnly) return;
  for (const img of state.images) setSelected(img.id, true);
  updateToolbar();
  const left = state.images.length - state.selected.size;
  say(`${plural(state.selected.size, 'image')} selected${left ? ` (${left} shown take no decision)` : ''}`);
}

/** @param {{ quiet?: boolean }} [options] quiet: no status message (the page changed mode) */
export function clearSelection({ quiet = false } = {}) {
  const had = state.selected.size;
  for (const id of [...state.selected]) setSelected(id, false);
  state.selected.clear();
  updateToolbar();
  if (had && !quiet) say('Selection cleared');
}

/** In grid order. */
export function selectedImages() {
  return state.images.filter((i) => state.selected.has(i.id));
}

export function updateToolbar() {
  const sel = selectedImages();
  els.selectedCount.textContent = `${sel.length} selected`;
  const off = state.busy || state.readOnly;
  els.approve.disabled = off || !sel.some((i) => canApply(i, 'approve'));
  els.approveNow.disabled = els.approve.disabled;
  els.reject.disabled = off || !sel.some((i) => canApply(i, 'reject'));
  els.undo.disabled = off || !sel.some((i) => canApply(i, 'undo'));
  els.selectNone.disabled = sel.length === 0;
  els.selectAll.disabled = !state.images.some((i) => !state.selected.has(i.id) && !notDecidableBecause(i));
}

/**
 * One card at a time is in the tab order (a roving tabindex), so Tab moves
 * past the grid instead of through every card.
 * @param {string} id
 */
export function setRoving(id) {
  if (state.focusId && state.focusId !== id) state.cardById.get(state.focusId)?.setAttribute('tabindex', '-1');
  state.focusId = id;
  state.cardById.get(id)?.setAttribute('tabindex', '0');
}

/** @param {string} id */
export function focusCard(id) {
  const card = state.cardById.get(id);
  if (!card) return;
  setRoving(id);
  card.focus();
  card.scrollIntoView({ block: 'nearest' });
}
