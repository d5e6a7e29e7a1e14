// @ts-check
// The sidebar's collection and delivery pickers, the collection's summary
// and, under it, why its images are where they are (ui/js/why.js).
// A delivery is what one poll of the Butler found: the API calls it a batch
// (GET /review/batches, `batch=`); an upload batch is something else (the
// Zooniverse box, ui/js/upload-progress.js).

import { API, allPages, api } from './api.js';
import { h } from './dom.js';
import { els } from './elements.js';
import { dayFmt, fmtDate } from './format.js';
import { isReviewer, user } from './session.js';
import { currentCollection, state } from './state.js';
import { renderUploads } from './upload-progress.js';
import { renderFailures } from './failures.js';
import { fetchWhy, needsAttention, whyBrief, whyNodes } from './why.js';
import { readUrl } from './url-filters.js';

/**
 * @typedef {import('./types.js').Collection} Collection
 * @typedef {import('./types.js').Batch} Batch
 * @typedef {import('./types.js').StateCounts} StateCounts
 */

// The lifecycle order; any other state the server reports follows these.
const COUNT_ORDER = ['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed'];

/**
 * The run collection name: GET /collections calls it `collection` (as registration does).
 * @param {Collection} c
 */
function collectionName(c) {
  return String(c.collection ?? c.name ?? c.id);
}

/**
 * Image counts per state: GET /collections nests them under `counts.images`
 * (a flat `counts`, as GET /collections/:id has it, is read too).
 * @param {Collection} c
 * @returns {StateCounts}
 */
function imageCounts(c) {
  /** @type {unknown} */
  const counts = c.counts?.images ?? c.counts;
  return counts && typeof counts === 'object' ? /** @type {StateCounts} */ (counts) : {};
}

/** @param {Collection} c */
function collectionLabel(c) {
  const q = imageCounts(c).quarantined ?? 0;
  return `${collectionName(c)} (${c.status}) — ${q} quarantined`;
}

/** "Delivery 3 · 4 Dec 2026 · 12 pending" @param {Batch} b */
function batchLabel(b) {
  const pending = b.counts?.pending ?? 0;
  const date = b.createdAt ? ` · ${fmtDate(b.createdAt, dayFmt)}` : '';
  return `Delivery ${b.seq}${date} · ${pending} pending`;
}

/** Counts the reads of "why", so that an older answer never replaces a newer one. */
let whyReads = 0;

/**
 * Why the collection's images are where they are, under its counts. A
 * collapsible box (the sidebar is narrow, and at middle widths the audit
 * trail comes under it): one line of counts per outcome, opened at first for
 * the owner when some group asks them to act; the three largest groups, the
 * rest on request. Re-reads of the same collection keep what the user opened.
 * @param {Collection | null} c
 */
async function renderWhy(c) {
  const box = document.getElementById('why');
  const body = document.getElementById('why-body');
  const brief = document.getElementById('why-brief');
  if (!(box instanceof HTMLDetailsElement) || !body || !brief) return;
  const read = ++whyReads;
  const why = c ? await fetchWhy(c.id) : null;
  if (read !== whyReads || (c && currentCollection()?.id !== c.id)) return;
  if (!c || !why || why.total === 0) {
    box.hidden = true;
    box.dataset.collection = '';
    return;
  }
  const moreOpen = body.querySelector('details.why-more')?.hasAttribute('open') ?? false;
  brief.textContent = whyBrief(why);
  body.replaceChildren(...whyNodes(why, `Outcomes of ${collectionName(c)}`, 3));
  if (box.dataset.collection !== c.id) {
    box.dataset.collection = c.id;
    box.open = c.owner === user.username && needsAttention(why);
  } else if (moreOpen) body.querySelector('details.why-more')?.setAttribute('open', '');
  box.hidden = false;
}

export function renderCollectionSummary() {
  const c = currentCollection();
  void renderUploads(c);
  void renderFailures(c);
  void renderWhy(c);
  if (!c) {
    els.collectionSummary.hidden = true;
    return;
  }
  const counts = imageCounts(c);
  const keys = [...COUNT_ORDER.filter((k) => k in counts), ...Object.keys(counts).filter((k) => !COUNT_ORDER.includes(k))];
  els.collectionSummary.replaceChildren(
    h('p', { class: 'summary-line' },
      h('span', { class: `badge collection-${c.status}` }, String(c.status)),
      ' ',
      h('span', { class: 'muted' }, 'owner ', h('strong', { text: c.owner ?? '—' }))),
    h('dl', { class: 'counts' },
      keys.map((k) => h('div', { class: `count count-${k}` }, h('dt', { text: k }), h('dd', { text: String(counts[k] ?? 0) })))),
  );
  els.collectionSummary.hidden = false;
}

/** Reviewers start on the first collection with work they may do; PIs on their first. */
function defaultCollection() {
  if (isReviewer) {
    const work = state.collections.find((c) => c.owner !== user.username && (imageCounts(c).quarantined ?? 0) > 0);
    if (work) return work;
  }
  return state.collections[0];
}

/** @param {{ keepSelection?: boolean, summary?: boolean }} [options] summary: false leaves the sidebar's summary for later (the first page of images goes first) */
export async function loadCollections({ keepSelection = true, summary = true } = {}) {
  /** @type {Collection[]} */
  const all = await allPages(`${API}/collections`);
  state.collections = all;
  const wanted = keepSelection ? els.collection.value || readUrl().collection : '';
  els.collection.replaceChildren(...state.collections.map((c) => h('option', { value: c.id, text: collectionLabel(c) })));
  if (state.collections.length === 0) {
    els.collection.append(h('option', { value: '', text: 'No collections' }));
    els.collection.disabled = true;
  } else {
    els.collection.disabled = false;
    els.collection.value = state.collections.some((c) => c.id === wanted) ? wanted : defaultCollection().id;
  }
  if (summary) renderCollectionSummary();
}

/** @param {{ keep?: string }} [options] the delivery to keep picked, if the collection has it */
export async function loadBatches({ keep = '' } = {}) {
  const cid = els.collection.value;
  state.batches = [];
  els.batch.replaceChildren(h('option', { value: '', text: 'All deliveries' }));
  els.batch.disabled = true;
  if (!cid) return;
  /** @type {import('./types.js').ItemList<Batch> | null} */
  const data = await api(`${API}/review/batches?collection=${encodeURIComponent(cid)}`);
  if (cid !== els.collection.value) return; // the user moved on
  state.batches = (Array.isArray(data?.items) ? data.items : []).slice().sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
  els.batch.append(...state.batches.map((b) => h('option', { value: b.id, text: batchLabel(b) })));
  els.batch.value = state.batches.some((b) => b.id === keep) ? keep : '';
  els.batch.disabled = state.batches.length === 0;
}

/** Re-reads counts after a decision without disturbing the pickers. */
export async function refreshCounts() {
  try {
    const [cols, batches] = /** @type {[Collection[], import('./types.js').ItemList<Batch> | null]} */ (
      await Promise.all([
        allPages(`${API}/collections`),
        els.collection.value ? api(`${API}/review/batches?collection=${encodeURIComponent(els.collection.value)}`) : null,
      ])
    );
    if (Array.isArray(cols)) {
      state.collections = cols;
      for (const opt of els.collection.options) {
        const c = state.collections.find((x) => x.id === opt.value);
        if (c) opt.textContent = collectionLabel(c);
      }
      renderCollectionSummary();
    }
    if (Array.isArray(batches?.items)) {
      for (const b of batches.items) {
        const i = state.batches.findIndex((x) => x.id === b.id);
        if (i >= 0) state.batches[i] = b;
      }
      for (const opt of els.batch.options) {
        const b = state.batches.find((x) => x.id === opt.value);
        if (b) opt.textContent = batchLabel(b);
      }
    }
  } catch {
    /* counts are a convenience; the decision result was already reported */
  }
}
