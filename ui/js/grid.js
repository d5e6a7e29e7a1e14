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

/** @typedef {import('./types.js').ReviewImage} ReviewImage */

const PAGE_SIZE = 100;

/** @param {string | null} after */
function imagesQuery(after) {
  const q = new URLSearchParams();
  q.set('collection', els.collection.value);
  if (els.batch.value) q.set('batch', els.batch.value);
  if (els.verdict.value) q.set('verdict', els.verdict.value);
  if (els.state.value) q.set('state', els.state.value);
  q.set('limit', String(PAGE_SIZE));
  if (after) q.set('after', after);
  return `${API}/review/images?${q}`;
}

/** @param {{ append?: boolean }} [options] append: the next page (Load more), not a fresh list */
export async function loadImages({ append = false } = {}) {
  state.loadCtl?.abort();
  const ctl = new AbortController();
  state.loadCtl = ctl;
  if (!els.collection.value) {
    resetGrid();
    showEmpty('There are no collections to show yet.');
    els.grid.setAttribute('aria-busy', 'false');
    return;
  }
  els.grid.setAttribute('aria-busy', 'true');
  els.loadMore.disabled = true;
  if (!append) els.refresh.disabled = true;
  try {
    /** @type {import('./types.js').Page<ReviewImage> | null} */
    const data = await api(imagesQuery(append ? state.next : null), { signal: ctl.signal });
    const items = Array.isArray(data?.items) ? data.items : [];
    if (!append) resetGrid();
    const firstNew = state.images.length;
    addImages(items);
    noteLoaded(items);
    state.next = data?.next ?? null;
    applyMode();
    updateCount();
    updateToolbar();
    if (state.images.length === 0) {
      showEmpty('No images match these filters.');
    } else {
      els.empty.hidden = true;
      els.grid.hidden = false;
    }
    els.loadMore.hidden = !state.next;
    renderAudit();
    if (append && items.length) focusCard(state.images[firstNew].id);
  } catch (err) {
    if (isAbortError(err)) return;
    if (!append) {
      resetGrid();
      showEmpty('Images could not be loaded.');
    }
    say(`Could not load images. ${messageOf(err)}`, 'error');
  } finally {
    if (state.loadCtl === ctl) {
      els.grid.setAttribute('aria-busy', 'false');
      els.loadMore.disabled = false;
      els.refresh.disabled = false;
    }
  }
}

export function resetGrid() {
  state.images = [];
  state.imageById.clear();
  state.cardById.clear();
  state.selected.clear();
  state.resultFor.clear();
  state.anchorId = null;
  state.focusId = null;
  state.next = null;
  els.cards.replaceChildren();
  els.loadMore.hidden = true;
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
  els.resultCount.textContent = n ? `(${n}${state.next ? '+' : ''})` : '';
  els.loadMore.textContent = state.next ? `Load more (showing ${n})` : 'Load more';
}
