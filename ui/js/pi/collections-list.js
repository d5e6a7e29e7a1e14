// @ts-check
// "Your collections": GET /collections?mine=true a page at a time, each with
// its status, data release and image counts; choosing one opens its details.

import { API, api, messageOf } from '../api.js';
import { byId, h } from '../dom.js';
import { plural } from '../format.js';
import { say } from './status.js';

const PAGE = 50;
/** @type {string | null} */
let next = null;
/** @type {(id: string) => void} */
let onPick = () => {};
/** @type {string | null} */
let current = null;

/** @param {Record<string, unknown> | undefined} counts */
function countsText(counts) {
  const images = /** @type {Record<string, number>} */ (counts?.images ?? {});
  const total = Object.values(images).reduce((a, b) => a + Number(b || 0), 0);
  if (!total) return 'no images yet';
  const parts = Object.entries(images).filter(([, n]) => n).map(([state, n]) => `${n} ${state}`);
  return `${plural(total, 'image')}: ${parts.join(', ')}`;
}

/** @param {import('./types.js').PiCollection} c */
function item(c) {
  const label = `${c.collection} (${c.repository})`;
  return h('li', { class: 'pi-collection', dataset: { id: c.id } },
    h('button', { type: 'button', class: 'pi-collection-pick', 'aria-current': c.id === current ? 'true' : null, onclick: () => onPick(c.id) },
      h('span', { class: 'pi-collection-name', text: label }),
      h('span', { class: 'badges' },
        h('span', { class: `badge collection-${c.status}`, text: c.status }),
        h('span', { class: 'badge', text: `release ${c.dataRelease ?? 'unknown'}` })),
      h('span', { class: 'muted pi-collection-counts', text: countsText(c.counts) })));
}

/** @param {boolean} more */
async function load(more) {
  const list = byId('collections-list', HTMLUListElement);
  const moreBtn = byId('collections-more', HTMLButtonElement);
  list.setAttribute('aria-busy', 'true');
  try {
    const q = `?mine=true&limit=${PAGE}${more && next ? `&after=${encodeURIComponent(next)}` : ''}`;
    /** @type {import('../types.js').Page<import('./types.js').PiCollection> | null} */
    const page = await api(`${API}/collections${q}`);
    const items = page?.items ?? [];
    if (more) list.append(...items.map(item));
    else list.replaceChildren(...items.map(item));
    next = page?.next ?? null;
    moreBtn.hidden = !next;
    byId('collections-empty', HTMLElement).hidden = list.children.length > 0;
    return items;
  } catch (err) {
    say(['Your collections could not be read', messageOf(err)], 'error');
    return [];
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

/** Marks the chosen collection in the list. @param {string | null} id */
export function markCurrent(id) {
  current = id;
  for (const b of document.querySelectorAll('.pi-collection')) {
    const btn = b.querySelector('button');
    if (btn && b instanceof HTMLElement) {
      if (b.dataset.id === id) btn.setAttribute('aria-current', 'true');
      else btn.removeAttribute('aria-current');
    }
  }
}

/**
 * @param {(id: string) => void} pick
 * @returns {Promise<import('./types.js').PiCollection[]>}
 */
export function initCollections(pick) {
  onPick = pick;
  byId('collections-more', HTMLButtonElement).addEventListener('click', () => void load(true));
  return load(false);
}

/** Reads the first page again (after a registration or a change). */
export function reloadCollections() {
  return load(false).then(() => markCurrent(current));
}
