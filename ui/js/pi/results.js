// @ts-check
// The volunteers' results of one collection, for its owner (and admins):
// a thumbnail per subject with its object id, the consensus and the vote
// breakdown, retired and flagged subjects marked, filtered by answer,
// agreement and what the rules did, sorted by agreement; a histogram of
// agreement (SVG built with DOM calls, with the same numbers as a table);
// and the whole table as CSV or Parquet. The rows carry private positions:
// the API serves them to the owner, delegates and admins only.

import { API, api, isAbortError, messageOf } from '../api.js';
import { h } from '../dom.js';
import { plural } from '../format.js';

const SVG = 'http://www.w3.org/2000/svg';
const PAGE = 24;

/**
 * @typedef {{ kind: string, classifications?: number, counts?: Record<string, number>, consensus?: { most_likely: string | null, num_votes: number, agreement: number, total_votes: number }, evenness?: number | null }} TaskView
 * @typedef {{ objectId: string | null, subjectId: string, workflowId: string, imageId: string, stampIndex: number, ra: number | null, dec: number | null, classifications: number, tasks: Record<string, TaskView>, swap: { probability: number, status: string } | null, retired: boolean, retiredReason: string | null, flags: string[], previewUrl: string | null }} ResultView
 * @typedef {{ task: string, kind: string, labels: string[] }} TaskInfo
 * @typedef {{ tasks: TaskInfo[], histogram: { bins: { from: number, to: number, count: number }[], none: number } }} Summary
 * @typedef {{ items: ResultView[], next: string | null, total: number, summary?: Summary }} ResultsPage
 */

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...Node} children
 */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** @param {number} x */
const pct = (x) => `${Math.round(x * 100)}%`;

/**
 * The agreement histogram: bars in SVG, and the same counts as a table for
 * whoever cannot see the bars.
 * @param {Summary['histogram']} hist
 * @param {string} what the filter in words
 */
function histogram(hist, what) {
  const width = 320;
  const height = 120;
  const pad = 18;
  const max = Math.max(1, ...hist.bins.map((b) => b.count));
  const bw = (width - 2) / hist.bins.length;
  const total = hist.bins.reduce((n, b) => n + b.count, 0) + hist.none;
  const desc = hist.bins.map((b) => `${pct(b.from)} to ${pct(b.to)}: ${b.count}`).join('; ');
  const bars = hist.bins.map((b, i) => {
    const bh = Math.round((b.count / max) * (height - pad - 4));
    return svg('rect', { x: 1 + i * bw + 1, y: height - pad - bh, width: Math.max(1, bw - 2), height: bh, class: 'results-bar' }, svg('title', {}, document.createTextNode(`${pct(b.from)}–${pct(b.to)}: ${b.count}`)));
  });
  const axis = /** @type {const} */ ([[0, 'start'], [0.5, 'middle'], [1, 'end']]).map(([v, anchor]) => svg('text', { x: v * width, y: height - 4, 'text-anchor': anchor, class: 'results-axis' }, document.createTextNode(pct(v))));
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'results-histogram-title results-histogram-desc', class: 'results-histogram-svg' },
    svg('title', { id: 'results-histogram-title' }, document.createTextNode(`Agreement of ${total} subjects (${what})`)),
    svg('desc', { id: 'results-histogram-desc' }, document.createTextNode(desc)),
    svg('line', { x1: 0, y1: height - pad, x2: width, y2: height - pad, class: 'results-baseline' }),
    ...bars, ...axis);
  const table = h('table', { class: 'results-histogram-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Agreement' }), h('th', { scope: 'col', text: 'Subjects' }))),
    h('tbody', null,
      ...hist.bins.map((b) => h('tr', null, h('td', { text: `${pct(b.from)}–${pct(b.to)}` }), h('td', { text: String(b.count) }))),
      hist.none ? h('tr', null, h('td', { text: 'no answer yet' }), h('td', { text: String(hist.none) })) : null));
  return h('figure', { class: 'results-histogram', id: 'results-histogram' },
    chart,
    h('figcaption', { class: 'muted', text: `Agreement with the consensus answer, ${plural(total, 'subject')} (${what}).` }),
    h('details', { class: 'results-histogram-details' }, h('summary', { text: 'Histogram as a table' }), table));
}

/**
 * @param {ResultView} r
 * @param {TaskInfo | undefined} question the first question task
 */
function card(r, question) {
  const name = r.objectId ? `object ${r.objectId}` : `subject ${r.subjectId}`;
  const t = question ? r.tasks[question.task] : undefined;
  const cons = t?.consensus;
  const counts = t?.counts ?? {};
  const labels = question ? [...new Set([...question.labels, ...Object.keys(counts)])] : [];
  const n = t?.classifications ?? 0;
  return h('li', { class: 'results-card', dataset: { subject: r.subjectId, agreement: String(cons?.agreement ?? '') } },
    r.previewUrl ? h('img', { class: 'results-thumb', src: r.previewUrl, alt: `Cutout of ${name}`, width: 96, height: 96, loading: 'lazy' }) : h('div', { class: 'results-thumb results-thumb-none', text: 'no image' }),
    h('div', { class: 'results-card-body' },
      h('h4', { class: 'results-name', text: name }),
      cons && cons.most_likely !== null
        ? h('p', { class: 'results-consensus' }, h('strong', { text: cons.most_likely }), ` · ${pct(cons.agreement)} agree (${cons.num_votes} of ${plural(n, 'classification')})`)
        : h('p', { class: 'results-consensus muted', text: 'No answer yet' }),
      labels.length
        ? h('dl', { class: 'results-votes' },
            ...labels.map((l) => h('div', { class: 'results-vote' },
              h('dt', { text: l }),
              h('dd', null, h('meter', { min: 0, max: Math.max(1, n), value: counts[l] ?? 0, 'aria-label': `${l}: ${counts[l] ?? 0} of ${n}` }), ` ${counts[l] ?? 0}`))))
        : null,
      h('p', { class: 'badges' },
        r.retired ? h('span', { class: 'badge badge-retired', text: `retired: ${r.retiredReason ?? ''}` }) : null,
        ...r.flags.map((f) => h('span', { class: 'badge badge-flag', text: `flagged: ${f}` })),
        r.swap ? h('span', { class: 'badge', text: `SWAP ${r.swap.probability.toPrecision(2)} (${r.swap.status})` }) : null),
      h('p', { class: 'results-where muted', text: `subject ${r.subjectId} · stamp ${r.stampIndex}${r.ra !== null && r.dec !== null ? ` · RA ${r.ra.toFixed(5)}, Dec ${r.dec.toFixed(5)}` : ''}` })));
}

/**
 * The results section of a collection.
 * @param {import('./types.js').PiCollection} col
 */
export function resultsPanel(col) {
  const base = `${API}/collections/${encodeURIComponent(col.id)}`;
  /** @type {TaskInfo | undefined} */
  let question;
  /** @type {string | null} */
  let next = null;
  /** @type {AbortController | null} */
  let inflight = null;

  const answer = h('select', { id: 'results-answer', name: 'answer' }, h('option', { value: '', text: 'Any answer' }));
  const sort = h('select', { id: 'results-sort', name: 'sort' },
    h('option', { value: '-agreement', text: 'Agreement, highest first' }),
    h('option', { value: 'agreement', text: 'Agreement, lowest first' }),
    h('option', { value: 'subject', text: 'Subject id' }));
  const min = h('input', { id: 'results-min', name: 'minAgreement', type: 'number', min: 0, max: 1, step: 0.05, inputmode: 'decimal', placeholder: '0' });
  const show = h('select', { id: 'results-show', name: 'show' },
    h('option', { value: '', text: 'All subjects' }),
    h('option', { value: 'retired', text: 'Retired by a rule' }),
    h('option', { value: 'flagged', text: 'Flagged by a rule' }),
    h('option', { value: 'active', text: 'Not retired' }));
  const field = (/** @type {string} */ id, /** @type {string} */ label, /** @type {HTMLElement} */ input) => h('div', { class: 'field results-field' }, h('label', { for: id, text: label }), input);
  const form = h('form', { class: 'results-filters', 'aria-label': 'Filter and sort the results', onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); void load(true); } },
    field('results-answer', 'Consensus answer', answer),
    field('results-min', 'Agreement at least (0–1)', min),
    field('results-show', 'Show', show),
    field('results-sort', 'Sort by', sort));
  for (const el of [answer, sort, show]) el.addEventListener('change', () => void load(true));
  min.addEventListener('change', () => void load(true));

  const csv = h('a', { class: 'btn btn-small', id: 'results-csv', href: `${base}/results.csv`, download: '', text: 'Download CSV' });
  const parquet = h('a', { class: 'btn btn-small', id: 'results-parquet', href: `${base}/results.parquet`, download: '', text: 'Download Parquet' });
  const status = h('p', { class: 'muted results-status', id: 'results-status', role: 'status', 'aria-live': 'polite' });
  const hist = h('div', { class: 'results-histogram-slot' });
  const list = h('ul', { class: 'results-grid', id: 'results-list', 'aria-label': 'Results' });
  const more = h('button', { type: 'button', class: 'btn btn-small', id: 'results-more', hidden: true, text: 'Show more results', onclick: () => void load(false) });

  /** The filter as query parameters (the downloads take the same ones). */
  function filterParams() {
    const q = new URLSearchParams();
    if (answer.value && question) {
      q.set('task', question.task);
      q.set('answer', answer.value);
    }
    const m = Number(min.value);
    if (min.value !== '' && Number.isFinite(m) && m >= 0 && m <= 1) q.set('minAgreement', String(m));
    if (show.value === 'retired') q.set('retired', 'true');
    if (show.value === 'flagged') q.set('flagged', 'true');
    if (show.value === 'active') q.set('retired', 'false');
    return q;
  }

  function filterWords() {
    const parts = [];
    if (answer.value) parts.push(`answer ${answer.value}`);
    if (min.value !== '') parts.push(`agreement at least ${min.value}`);
    if (show.value) parts.push(show.options[show.selectedIndex].text.toLowerCase());
    return parts.length ? parts.join(', ') : 'all subjects';
  }

  /** @param {boolean} fresh from the first page (a filter changed) or the next */
  async function load(fresh) {
    inflight?.abort();
    const ctl = new AbortController();
    inflight = ctl;
    const q = filterParams();
    const suffix = q.toString() ? `?${q}` : '';
    csv.setAttribute('href', `${base}/results.csv${suffix}`);
    parquet.setAttribute('href', `${base}/results.parquet${suffix}`);
    q.set('sort', sort.value);
    q.set('limit', String(PAGE));
    if (!fresh && next) q.set('cursor', next);
    list.setAttribute('aria-busy', 'true');
    try {
      /** @type {ResultsPage | null} */
      const page = await api(`${base}/results?${q}`, { signal: ctl.signal });
      if (!page || ctl.signal.aborted) return;
      if (page.summary) {
        const first = page.summary.tasks.find((t) => t.kind === 'question');
        if (!question && first) {
          question = first;
          answer.append(...first.labels.map((l) => h('option', { value: l, text: l })));
        }
        hist.replaceChildren(histogram(page.summary.histogram, filterWords()));
      }
      if (fresh) list.replaceChildren();
      list.append(...page.items.map((r) => card(r, question)));
      next = page.next;
      more.hidden = !next;
      const shown = list.children.length;
      status.textContent = page.total === 0
        ? (fresh && !suffix ? 'No results yet: volunteers\u2019 classifications appear here once they are pulled from Zooniverse and reduced.' : 'No subject matches these filters.')
        : `Showing ${shown} of ${plural(page.total, 'subject')} (${filterWords()}).`;
    } catch (err) {
      if (isAbortError(err)) return;
      status.textContent = `The results could not be read: ${messageOf(err)}`;
    } finally {
      if (inflight === ctl) list.removeAttribute('aria-busy');
    }
  }

  void load(true);
  return h('div', { class: 'results', id: 'results' },
    h('p', { class: 'panel-sub', text: 'What volunteers said about each of your objects. Positions are private to you: they appear here and in the downloads, never on Zooniverse.' }),
    form,
    h('p', { class: 'results-downloads' }, csv, ' ', parquet),
    hist,
    status,
    list,
    more);
}
