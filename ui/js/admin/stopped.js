// @ts-check
// What stopped, in every collection (GET /failures): failed datasets,
// failed stamps, and upload batches that failed, are blocked or wait, newest
// first, a page at a time. Retry takes a dataset or a batch back up through
// the collection's own retry routes (audited under the admin's name).

import { API, api, messageOf } from '../api.js';
import { h } from '../dom.js';
import { plural, timeEl } from '../format.js';
import { fill, loadFailed, moreButton, say, table } from './ui.js';

/** @typedef {import('./types.js').StoppedItem} StoppedItem */

const BODY = 'stopped-body';
const PAGE = 50;

/** @type {StoppedItem[]} */
let shown = [];
/** @type {string | null} */
let nextCursor = null;
/** @type {import('./types.js').StoppedPage['counts']} */
let counts = { artifact: 0, stamp: 0, batch: 0 };
/** Items whose retry was queued from this page (until the list is read again). */
const retried = new Set();

/** @param {StoppedItem} i */
function whatText(i) {
  if (i.kind === 'artifact') {
    const id = Object.entries(i.dataId ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
    return `Dataset ${i.datasetType ?? ''}${id ? ` ${id}` : ''}`;
  }
  if (i.kind === 'stamp') return `Stamp ${i.stamp} of ${i.groupKey}`;
  return `Upload batch ${i.seq} (${i.mode}) ${i.state}`;
}

/** @param {StoppedItem} i */
function detail(i) {
  if (i.kind === 'artifact') return `dataset ${i.datasetId}`;
  if (i.kind === 'stamp') return i.datasetIds?.length ? `from ${plural(i.datasetIds.length, 'dataset')}: ${i.datasetIds.join(', ')}` : '';
  return `batch ${i.id}`;
}

/**
 * @param {StoppedItem} i
 * @param {HTMLButtonElement} button
 */
async function retry(i, button) {
  const what = `${whatText(i)} of ${i.collection}`;
  // The accessible name keeps containing the visible words as they change (WCAG label-in-name).
  const show = (/** @type {string} */ words) => {
    button.textContent = words;
    button.setAttribute('aria-label', `${words} ${what}`);
  };
  button.disabled = true;
  show('Retrying…');
  try {
    const path = i.kind === 'artifact' ? `artifacts/${encodeURIComponent(i.id)}/retry` : `batches/${encodeURIComponent(i.id)}/retry`;
    await api(`${API}/collections/${encodeURIComponent(i.collectionId)}/${path}`, { method: 'POST' });
    retried.add(i.id);
    show('Retry queued');
    say([`${what}: retry queued`, 'It is taken up again (audited under your name); the list is read again.'], 'ok');
    await load();
  } catch (err) {
    button.disabled = false;
    show('Retry');
    say([`${what}: not retried`, messageOf(err)], 'error');
  }
}

/** @param {StoppedItem} i */
function action(i) {
  if (i.kind === 'stamp') return h('span', { class: 'cell-sub', text: 'Made again when its datasets are retried' });
  if (retried.has(i.id)) return h('span', { class: 'cell-sub', text: 'Retry queued' });
  const b = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Retry ${whatText(i)} of ${i.collection}` }, 'Retry');
  b.addEventListener('click', () => void retry(i, b));
  return b;
}

function render() {
  const total = counts.artifact + counts.stamp + counts.batch;
  const summary = total
    ? `${plural(total, 'thing')} stopped: ${plural(counts.artifact, 'failed dataset')}, ${plural(counts.stamp, 'failed stamp')}, ${plural(counts.batch, 'stopped upload batch', 'stopped upload batches')}.`
    : 'Nothing has stopped: no failed datasets, stamps or upload batches.';
  fill(BODY,
    h('div', { class: 'stopped-head' },
      h('p', { class: 'stopped-summary', text: summary }),
      h('div', { class: 'stopped-links' },
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => { say('Reading what stopped again…'); void load().then(() => say('What stopped: read again.', 'ok')); } }, 'Refresh'),
        h('a', { class: 'btn btn-small btn-link', href: '/admin/queues' }, 'Queue dashboard'))),
    shown.length
      ? table('Stopped work, newest first', ['What', 'Collection', 'Reason', 'When', 'Attempts', ''], shown.map((i) => [
          h('span', null, h('span', { class: 'cell-main', text: whatText(i) }), h('span', { class: 'cell-sub cell-id', text: detail(i) })),
          h('span', null, h('span', { class: 'cell-main', text: i.collection }), h('span', { class: 'cell-sub', text: `owner ${i.owner}` })),
          h('span', { class: 'failure-reason', text: i.error ?? 'no reason recorded' }),
          timeEl(i.at),
          i.attempts === null ? '–' : String(i.attempts),
          action(i),
        ]), { className: 'stopped-table', rowIds: shown.map((i) => i.id) })
      : null,
    nextCursor ? moreButton('Show more', () => load(true)) : null);
}

/** @param {boolean} [more] the next page, after what is shown */
export async function load(more = false) {
  try {
    /** @type {import('./types.js').StoppedPage | null} */
    const page = await api(`${API}/failures?limit=${PAGE}${more && nextCursor ? `&after=${encodeURIComponent(nextCursor)}` : ''}`);
    if (!more) retried.clear();
    shown = more ? [...shown, ...(page?.items ?? [])] : (page?.items ?? []);
    nextCursor = page?.next ?? null;
    counts = page?.counts ?? counts;
    render();
  } catch (err) {
    loadFailed(BODY, 'what stopped', err);
  }
}
