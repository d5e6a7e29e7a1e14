// @ts-check
// Which images are selected, which card has the grid's focus, and the
// toolbar that acts on the selection.

import { API, api, messageOf } from './api.js';
import { canApply, notDecidableBecause } from './decidable.js';
import { els } from './elements.js';
import { plural } from './format.js';
import { state } from './state.js';
import { say } from './status.js';
import { filterParams } from './url-filters.js';

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
  if (state.selected.has(id)) state.allMatching = null; // no longer "all"
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

/** Every decidable image on this page; the banner then offers every one matching the filters. */
export function selectAll() {
  if (state.readOnly) return;
  for (const img of state.images) setSelected(img.id, true);
  updateToolbar();
  const onPage = state.images.filter((i) => state.selected.has(i.id)).length;
  const left = state.images.length - onPage;
  const more = state.total > state.images.length ? `; "Select all ${state.total.toLocaleString('en')} matching these filters" is above the images` : '';
  say(`${plural(onPage, 'image')} on this page selected${left ? ` (${left} shown take no decision)` : ''}${more}`);
}

/**
 * "Select all N matching these filters", across pages: asks the server for
 * every image of the filter a decision applies to (at most 10,000), or,
 * when they are already selected, clears the selection.
 */
export async function toggleAllMatching() {
  if (state.readOnly) return;
  if (state.allMatching) {
    clearSelection();
    return;
  }
  const q = filterParams();
  q.set('decidable', 'true');
  els.selectMatchingButton.disabled = true;
  try {
    /** @type {{ ids: string[], total: number, truncated: boolean } | null} */
    const data = await api(`${API}/review/image-ids?${q}`);
    const ids = Array.isArray(data?.ids) ? data.ids : [];
    for (const id of ids) state.selected.add(id);
    for (const [id, card] of state.cardById) syncSelected(card, id);
    state.allMatching = { total: data?.total ?? ids.length, truncated: Boolean(data?.truncated) };
    updateToolbar();
    say(data?.truncated
      ? `${plural(ids.length, 'image')} selected: the first ${ids.length.toLocaleString('en')} of ${(data?.total ?? 0).toLocaleString('en')} matching these filters (decide on these, then select again for the rest)`
      : `${plural(ids.length, 'image')} selected: every one matching these filters that a decision applies to`);
  } catch (err) {
    say(`Could not select every matching image. ${messageOf(err)}`, 'error');
  } finally {
    els.selectMatchingButton.disabled = false;
  }
}

/** @param {{ quiet?: boolean }} [options] quiet: no status message (the page changed mode) */
export function clearSelection({ quiet = false } = {}) {
  const had = state.selected.size;
  for (const id of [...state.selected]) setSelected(id, false);
  state.selected.clear();
  state.allMatching = null;
  updateToolbar();
  if (had && !quiet) say('Selection cleared');
}

/** The selected images on this page, in grid order. */
export function selectedImages() {
  return state.images.filter((i) => state.selected.has(i.id));
}

/** Selected ids on other pages (their images are not loaded: the server checks them). */
export function selectedElsewhere() {
  return [...state.selected].filter((id) => !state.imageById.has(id));
}

export function updateToolbar() {
  const sel = selectedImages();
  const elsewhere = state.selected.size - sel.length;
  els.selectedCount.textContent = elsewhere ? `${state.selected.size.toLocaleString('en')} selected (${elsewhere.toLocaleString('en')} on other pages)` : `${sel.length} selected`;
  const off = state.busy || state.readOnly;
  els.approve.disabled = off || !(elsewhere || sel.some((i) => canApply(i, 'approve')));
  els.approveNow.disabled = els.approve.disabled;
  els.reject.disabled = off || !(elsewhere || sel.some((i) => canApply(i, 'reject')));
  els.undo.disabled = off || !(elsewhere || sel.some((i) => canApply(i, 'undo')));
  els.selectNone.disabled = state.selected.size === 0;
  els.selectAll.disabled = !state.images.some((i) => !state.selected.has(i.id) && !notDecidableBecause(i));
  updateMatchingBanner();
}

/**
 * Once the whole page is selected, and more images match than the page
 * shows, the banner offers all of them; once they are, it says so and offers
 * to clear.
 */
function updateMatchingBanner() {
  const decidable = state.images.filter((i) => !notDecidableBecause(i));
  const pageAll = decidable.length > 0 && decidable.every((i) => state.selected.has(i.id));
  const more = state.total > state.images.length;
  const show = !state.readOnly && (Boolean(state.allMatching) || (pageAll && more));
  els.selectMatching.hidden = !show;
  if (!show) return;
  const total = state.total.toLocaleString('en');
  if (state.allMatching) {
    const n = state.selected.size.toLocaleString('en');
    els.selectMatchingText.textContent = state.allMatching.truncated
      ? `${n} selected: the first of ${state.allMatching.total.toLocaleString('en')} matching these filters that take a decision.`
      : `All ${n} images matching these filters that take a decision are selected, on every page.`;
    els.selectMatchingButton.textContent = 'Clear selection';
  } else {
    els.selectMatchingText.textContent = `All ${decidable.length} images on this page that take a decision are selected.`;
    els.selectMatchingButton.textContent = `Select all ${total} matching these filters`;
  }
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
