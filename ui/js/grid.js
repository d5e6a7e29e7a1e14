// @ts-check
// The image grid: loading the filtered images a page at a time and rendering
// one card per image.

import { API, api, isAbortError, messageOf } from './api.js';
import { renderAudit } from './audit.js';
import { statusBadge } from './badges.js';
import { h } from './dom.js';
import { els } from './elements.js';
import { altText, metaList, stampTitle } from './image-details.js';
import { applyMode } from './read-only.js';
import { countdownNode } from './countdown.js';
import { noteLoaded, renewSoon } from './media-refresh.js';
import { canApply, notDecidableBecause } from './decidable.js';
import { focusCard, setRoving, syncSelected, updateToolbar } from './selection.js';
import { isReviewer } from './session.js';
import { state } from './state.js';
import { say } from './status.js';
import { filterParams } from './url-filters.js';

/** @typedef {import('./types.js').ReviewImage} ReviewImage */

/** Cards per page: a page renders in well under a frame budget, whatever the collection's size. */
export const PAGE_SIZE = 100;

/** @param {string | null} after */
function imagesQuery(after) {
  const q = filterParams();
  q.set('limit', String(PAGE_SIZE));
  if (after) q.set('after', after);
  return `${API}/review/images?${q}`;
}

/**
 * Shows one page of the filtered images. Without a page: the first page of a
 * new filter (the selection is cleared); with one: that page of the same
 * filter (the selection, which may span pages, is kept).
 * @param {{ page?: number, focus?: 'first' | 'last' }} [options] focus: the card to focus once shown (keyboard paging)
 */
export async function loadImages({ page, focus } = {}) {
  state.loadCtl?.abort();
  const ctl = new AbortController();
  state.loadCtl = ctl;
  const fresh = page === undefined;
  if (fresh) {
    state.pageCursors = [null];
    state.allMatching = null;
    state.selected.clear();
  }
  const want = Math.max(0, Math.min(page ?? 0, state.pageCursors.length));
  const cursor = want < state.pageCursors.length ? state.pageCursors[want] : state.next;
  if (!els.collection.value) {
    resetGrid();
    showEmpty('There are no collections to show yet.');
    els.grid.setAttribute('aria-busy', 'false');
    return;
  }
  els.grid.setAttribute('aria-busy', 'true');
  els.pagePrev.disabled = true;
  els.pageNext.disabled = true;
  els.refresh.disabled = true;
  try {
    /** @type {import('./types.js').Page<ReviewImage> | null} */
    const data = await api(imagesQuery(cursor), { signal: ctl.signal });
    const items = Array.isArray(data?.items) ? data.items : [];
    resetGrid({ keepSelection: true });
    if (want === state.pageCursors.length) state.pageCursors.push(cursor);
    state.page = want;
    addImages(items);
    noteLoaded(items);
    state.next = data?.next ?? null;
    state.total = typeof data?.total === 'number' ? data.total : state.images.length;
    applyMode();
    updateCount();
    updateToolbar();
    if (state.images.length === 0) {
      showEmpty(want > 0 ? 'No more images match these filters.' : 'No images match these filters.');
    } else {
      els.empty.hidden = true;
      els.grid.hidden = false;
    }
    renderAudit();
    // Another page starts at its top, as a new page would (the pager is at the bottom).
    if (!fresh && els.grid.getBoundingClientRect().top < 0) els.grid.scrollIntoView({ block: 'start' });
    if (focus && state.images.length) focusCard(state.images[focus === 'last' ? state.images.length - 1 : 0].id);
  } catch (err) {
    if (isAbortError(err)) return;
    if (fresh) {
      resetGrid();
      showEmpty('Images could not be loaded.');
    }
    say(`Could not load images. ${messageOf(err)}`, 'error');
  } finally {
    if (state.loadCtl === ctl) {
      els.grid.setAttribute('aria-busy', 'false');
      els.refresh.disabled = false;
      updatePager();
    }
  }
}

/** @param {{ keepSelection?: boolean }} [options] keepSelection: another page of the same filter */
export function resetGrid({ keepSelection = false } = {}) {
  state.images = [];
  state.imageById.clear();
  state.cardById.clear();
  if (!keepSelection) {
    state.selected.clear();
    state.allMatching = null;
    state.pageCursors = [null];
    state.page = 0;
    state.total = 0;
  }
  state.resultFor.clear();
  state.anchorId = null;
  state.focusId = null;
  state.next = null;
  els.cards.replaceChildren();
  els.pager.hidden = true;
  updateCount();
  updateToolbar();
}

/** @param {string} text */
export function showEmpty(text) {
  els.empty.textContent = text;
  els.empty.hidden = false;
  els.grid.hidden = true;
}

/** @param {ReviewImage[]} items */
function addImages(items) {
  const frag = document.createDocumentFragment();
  for (const img of items) {
    if (!img || typeof img.id !== 'string' || state.imageById.has(img.id)) continue;
    state.images.push(img);
    state.imageById.set(img.id, img);
    const card = h('div', {
      class: 'card',
      role: 'gridcell',
      tabindex: '-1',
      'aria-selected': 'false',
      dataset: { imageId: img.id },
    });
    state.cardById.set(img.id, card);
    fillCard(card, img);
    frag.append(card);
  }
  els.cards.append(frag);
  if (!state.focusId && state.images.length) setRoving(state.images[0].id);
}

/**
 * (Re)builds a card's content; the card element itself stays, keeping its
 * focus and place in the tab order.
 * @param {HTMLElement} card
 * @param {ReviewImage} img
 */
function fillCard(card, img) {
  const tid = `t-${img.id}`;
  const did = `d-${img.id}`;
  // The cell is named by its content (name, status, countdown...): a label of the title alone would hide what it shows.
  const thumb = h('img', {
    src: img.previewUrl,
    alt: altText(img),
    loading: 'lazy',
    decoding: 'async',
    width: img.width || undefined,
    height: img.height || undefined,
  });
  const figure = h('div', { class: 'thumb' }, thumb);
  thumb.addEventListener('error', () => {
    // Usually an expired link: renewed in place within a second or two (media-refresh.js).
    if (figure.classList.contains('broken')) return;
    figure.classList.add('broken');
    const retrying = renewSoon(img.id);
    figure.append(h('span', { class: 'thumb-error', text: retrying ? 'Preview unavailable, retrying…' : 'Preview unavailable' }));
  });

  const err = state.resultFor.get(img.id);
  const why = isReviewer ? notDecidableBecause(img) : null;
  const lockNote = why ? h('p', { class: 'card-note', text: why.charAt(0).toUpperCase() + why.slice(1) }) : null;

  card.replaceChildren(
    h('span', { class: 'check', 'aria-hidden': 'true' }),
    figure,
    h('div', { class: 'card-body' },
      h('div', { class: 'card-head' },
        h('h3', { class: 'card-title', id: tid, text: stampTitle(img) }),
        h('button', {
          type: 'button',
          class: 'btn btn-small btn-quiet view',
          tabindex: '-1',
          'aria-label': `View ${stampTitle(img)}`,
          text: 'View',
        })),
      h('div', { id: did, class: 'card-details' },
        h('p', { class: 'badges' }, statusBadge(img)),
        metaList(img),
        countdownNode(img, canApply(img, 'undo')),
        err ? h('p', { class: 'card-error', text: `Last action failed: ${err}` }) : null),
      lockNote),
  );
  card.classList.toggle('stale', Boolean(els.state.value) && img.state !== els.state.value);
  card.classList.toggle('has-error', Boolean(err));
  card.classList.toggle('locked', Boolean(why));
  if (why && !state.readOnly) card.setAttribute('aria-disabled', 'true');
  else card.removeAttribute('aria-disabled');
  syncSelected(card, img.id);
}

/** @param {string} id */
export function refreshCard(id) {
  const card = state.cardById.get(id);
  const img = state.imageById.get(id);
  if (card && img) fillCard(card, img);
}

function updateCount() {
  const n = state.images.length;
  const from = state.page * PAGE_SIZE + 1;
  els.resultCount.textContent = n ? `(${fmtCount(from)}–${fmtCount(from + n - 1)} of ${fmtCount(Math.max(state.total, from + n - 1))})` : '';
}

/** Previous / next page, and where this page is among them. */
function updatePager() {
  const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
  const multi = state.page > 0 || Boolean(state.next);
  els.pager.hidden = !multi;
  els.pagePrev.disabled = state.page === 0;
  els.pageNext.disabled = !state.next;
  els.pageInfo.textContent = `Page ${fmtCount(state.page + 1)} of ${fmtCount(Math.max(pages, state.page + 1))}`;
}

/** @param {number} n */
function fmtCount(n) {
  return n.toLocaleString('en');
}
