// Reviewer page for the RSP → Zooniverse bridge.
// One ES module, no framework, no build step, no third-party code. Every DOM
// node is built with textContent/attributes (never innerHTML with data) and
// nothing sets an inline style attribute, so the page runs under
// `default-src 'self'; script-src 'self'; style-src 'self'`.

const API = '/api/v1';
const PAGE_SIZE = 100;
const AUDIT_SHOWN = 300;

// ---------------------------------------------------------------- helpers

const byId = (id) => document.getElementById(id);

/** Builds an element. attrs: class, text, dataset, on<event>, or attributes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
}

function readUser() {
  try {
    const u = JSON.parse(meta('bridge-user'));
    return {
      username: typeof u?.username === 'string' ? u.username : '',
      roles: Array.isArray(u?.roles) ? u.roles.map(String) : [],
    };
  } catch {
    return { username: '', roles: [] };
  }
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

function fmtDate(iso, fmt = dateFmt) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? '') : fmt.format(d);
}

function timeEl(iso) {
  return h('time', { datetime: iso, title: iso, text: fmtDate(iso) });
}

const pad2 = (n) => String(n).padStart(2, '0');

/** "10h00m28.60s +02°12′21.0″" with carries handled by rounding whole units first. */
function sexagesimal(ra, dec) {
  const raDeg = ((ra % 360) + 360) % 360;
  const cs = Math.round((raDeg / 15) * 360000) % (24 * 360000); // hundredths of a second of time
  const rh = Math.floor(cs / 360000);
  const rm = Math.floor(cs / 6000) % 60;
  const rs = (cs % 6000) / 100;
  const ds = Math.round(Math.abs(dec) * 36000); // tenths of an arcsecond
  const dd = Math.floor(ds / 36000);
  const dm = Math.floor(ds / 600) % 60;
  const dsec = (ds % 600) / 10;
  const sign = dec < 0 ? '-' : '+';
  return `${pad2(rh)}h${pad2(rm)}m${rs.toFixed(2).padStart(5, '0')}s ${sign}${pad2(dd)}°${pad2(dm)}′${dsec.toFixed(1).padStart(4, '0')}″`;
}

function decimalPos(ra, dec) {
  return `RA ${ra.toFixed(5)}°, Dec ${dec < 0 ? '' : '+'}${dec.toFixed(5)}°`;
}

function hasPosition(img) {
  return typeof img.ra === 'number' && typeof img.dec === 'number' && Number.isFinite(img.ra) && Number.isFinite(img.dec);
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function errorText(err) {
  if (!err) return 'failed';
  if (typeof err === 'string') return err;
  if (typeof err === 'object') {
    const parts = [err.title, err.detail, err.message].filter((p) => typeof p === 'string' && p);
    if (parts.length) return [...new Set(parts)].join(': ');
    if (typeof err.code === 'string') return err.code.replace(/_/g, ' ');
  }
  return String(err);
}

const VERDICT_LABEL = {
  pending_review: 'Needs review',
  auto_approved: 'Auto-approved',
  rejected: 'Rejected by policy',
};
const ACTION_LABEL = { approve: 'Approved', reject: 'Rejected', undo: 'Undone' };
const ACTION_PAST = { approve: 'approved', reject: 'rejected', undo: 'undone' };
const WCS_LABEL = { full: 'full WCS', position: 'position only', none: 'no WCS' };
const COUNT_ORDER = ['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed'];

function verdictBadge(verdict) {
  return h('span', { class: `badge verdict-${verdict ?? 'unknown'}` }, 'Policy: ', VERDICT_LABEL[verdict] ?? String(verdict ?? 'unknown'));
}

function stateBadge(s) {
  return h('span', { class: `badge state-${s ?? 'unknown'}` }, 'State: ', String(s ?? 'unknown'));
}

function actionBadge(action) {
  const a = String(action ?? '?');
  return h('span', { class: `badge action-${a}` }, ACTION_LABEL[a] ?? a.charAt(0).toUpperCase() + a.slice(1).replace(/_/g, ' '));
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, problem) {
    const title = problem?.title || (status ? `Request failed (HTTP ${status})` : 'Request failed');
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem ?? {};
  }
}

async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = csrfToken;
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'Network error', detail: 'the bridge could not be reached; check your connection and try again' });
  }
  const type = res.headers.get('content-type') ?? '';
  const isJson = /\bjson\b/i.test(type);
  if (!res.ok) {
    let problem = {};
    if (isJson) {
      try { problem = await res.json(); } catch { /* keep empty */ }
    }
    if (res.status === 401 && !problem.title) problem.title = 'Signed out';
    if (res.status === 401 && !problem.detail) problem.detail = 'your session has ended; reload the page to sign in again';
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  if (!isJson) {
    // A redirect to a login page lands here.
    throw new ApiError(res.status, { title: 'Signed out', detail: 'the bridge did not answer with data; reload the page to sign in again' });
  }
  return res.json();
}

// ---------------------------------------------------------------- state

const csrfToken = meta('csrf-token');
const user = readUser();
const isReviewer = user.roles.includes('reviewer') || user.roles.includes('admin');

const state = {
  collections: [],
  batches: [],
  images: [], // in grid order
  imageById: new Map(),
  cardById: new Map(),
  next: null,
  selected: new Set(),
  anchorId: null,
  focusId: null,
  readOnly: !isReviewer,
  busy: false,
  loadCtl: null,
  auditCtl: null,
  viewerId: null,
  auditItems: null,
  viewerZoom: '1',
  rejectIds: [],
  resultFor: new Map(), // imageId -> error text from the last decision
};

const els = {
  userName: byId('user-name'),
  userRoles: byId('user-roles'),
  logoutCsrf: byId('logout-csrf'),
  collection: byId('collection'),
  collectionSummary: byId('collection-summary'),
  batch: byId('batch'),
  verdict: byId('verdict'),
  state: byId('state'),
  resultCount: byId('result-count'),
  refresh: byId('refresh'),
  helpOpen: byId('help-open'),
  readonlyNote: byId('readonly-note'),
  toolbar: byId('toolbar'),
  selectedCount: byId('selected-count'),
  selectAll: byId('select-all'),
  selectNone: byId('select-none'),
  actions: byId('actions'),
  approve: byId('approve'),
  reject: byId('reject'),
  undo: byId('undo'),
  status: byId('status'),
  grid: byId('grid'),
  cards: document.querySelector('#grid .cards'),
  empty: byId('empty'),
  loadMore: byId('load-more'),
  audit: byId('audit'),
  auditRefresh: byId('audit-refresh'),
  rejectDialog: byId('reject-dialog'),
  rejectForm: byId('reject-form'),
  rejectSummary: byId('reject-summary'),
  rejectReason: byId('reject-reason'),
  rejectError: byId('reject-error'),
  rejectCancel: byId('reject-cancel'),
  rejectConfirm: byId('reject-confirm'),
  viewer: byId('viewer'),
  viewerTitle: byId('viewer-title'),
  viewerScroll: byId('viewer-scroll'),
  viewerImg: byId('viewer-img'),
  viewerFrames: byId('viewer-frames'),
  viewerImgError: byId('viewer-img-error'),
  viewerMeta: byId('viewer-meta'),
  viewerAudit: byId('viewer-audit'),
  viewerPrev: byId('viewer-prev'),
  viewerNext: byId('viewer-next'),
  viewerClose: byId('viewer-close'),
  help: byId('help'),
  helpClose: byId('help-close'),
};

// ---------------------------------------------------------------- status messages

let statusTimer = 0;
/** Writes to the aria-live region; clearing first makes repeated messages announce again. */
function say(message, kind = 'info') {
  clearTimeout(statusTimer);
  els.status.textContent = '';
  els.status.dataset.kind = kind;
  const lines = Array.isArray(message) ? message : [message];
  statusTimer = setTimeout(() => {
    els.status.replaceChildren(...lines.map((line, i) => h('p', { class: i === 0 ? 'status-main' : 'status-detail', text: line })));
  }, 30);
}

// ---------------------------------------------------------------- URL <-> filters

function readUrl() {
  const q = new URLSearchParams(location.search);
  const pick = (key, allowed, fallback) => {
    if (!q.has(key)) return fallback;
    const v = q.get(key);
    if (v === 'all' || v === '') return '';
    return allowed.includes(v) ? v : fallback;
  };
  return {
    collection: q.get('collection') ?? '',
    batch: q.get('batch') ?? '',
    verdict: pick('verdict', ['pending_review', 'auto_approved', 'rejected'], isReviewer ? 'pending_review' : ''),
    state: pick('state', ['quarantined', 'approved', 'rejected'], isReviewer ? 'quarantined' : ''),
  };
}

function writeUrl() {
  const q = new URLSearchParams();
  if (els.collection.value) q.set('collection', els.collection.value);
  if (els.batch.value) q.set('batch', els.batch.value);
  q.set('verdict', els.verdict.value || 'all');
  q.set('state', els.state.value || 'all');
  const url = `${location.pathname}?${q}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, '', url);
}

// ---------------------------------------------------------------- collections and batches

/** The run collection name: GET /collections calls it `collection` (as registration does). */
function collectionName(c) {
  return String(c.collection ?? c.name ?? c.id);
}

/** Image counts per state: GET /collections nests them under `counts.images`. */
function imageCounts(c) {
  const counts = c.counts?.images ?? c.counts;
  return counts && typeof counts === 'object' ? counts : {};
}

function collectionLabel(c) {
  const q = imageCounts(c).quarantined ?? 0;
  return `${collectionName(c)} (${c.status}) — ${q} quarantined`;
}

function batchLabel(b) {
  const pending = b.counts?.pending ?? 0;
  const date = b.createdAt ? ` · ${fmtDate(b.createdAt, dayFmt)}` : '';
  return `Batch ${b.seq}${date} · ${pending} pending`;
}

function currentCollection() {
  return state.collections.find((c) => c.id === els.collection.value) ?? null;
}

// Publishing and upload progress of the collection: its totals, then one line per upload batch.
// While something is on its way the figures are read again every few seconds.
const UPLOADS_POLL_MS = 4000;
// Settled now, but a reviewer may approve more at any time.
const UPLOADS_IDLE_POLL_MS = 15000;
let uploadsTimer = null;

async function renderUploads(c) {
  clearTimeout(uploadsTimer);
  uploadsTimer = null;
  const box = document.getElementById('uploads');
  const list = document.getElementById('uploads-list');
  if (!box || !list) return;
  let data;
  try {
    data = c ? await api(`${API}/collections/${encodeURIComponent(c.id)}/uploads`) : null;
  } catch {
    data = null;
  }
  // The reviewer may have moved to another collection while this was loading.
  if (c && currentCollection()?.id !== c.id) return;
  if (c && data && !document.hidden) uploadsTimer = setTimeout(() => void renderUploads(c), data.settled ? UPLOADS_IDLE_POLL_MS : UPLOADS_POLL_MS);
  const items = Array.isArray(data?.items) ? data.items : [];
  if (!c || (!items.length && !data?.published && !data?.approved)) {
    box.hidden = true;
    return;
  }
  list.replaceChildren(
    h('li', { class: 'muted release-totals', text: `${data.approved} approved waiting to publish · ${data.published} published · ${data.linked}/${data.total} subjects linked${data.settled ? '' : ' · updating…'}` }),
    ...items.map((u) =>
      h('li', { class: `upload upload-${u.state}`, 'data-batch-seq': String(u.seq) },
        h('span', { text: `Batch ${u.seq} (${u.mode}): ` }),
        h('progress', { max: String(Math.max(1, u.total)), value: String(u.linked), 'aria-label': `batch ${u.seq}: ${u.linked} of ${u.total} linked` }),
        h('span', { text: ` ${u.linked}/${u.total} linked · ${u.state}` }),
        u.error ? h('span', { class: 'upload-error', text: ` — ${u.error}` }) : null)),
  );
  box.hidden = false;
}

function renderCollectionSummary() {
  const c = currentCollection();
  void renderUploads(c);
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

async function loadCollections({ keepSelection = true } = {}) {
  const data = await api(`${API}/collections`);
  state.collections = Array.isArray(data?.items) ? data.items : [];
  const wanted = keepSelection ? els.collection.value || readUrl().collection : '';
  els.collection.replaceChildren(...state.collections.map((c) => h('option', { value: c.id, text: collectionLabel(c) })));
  if (state.collections.length === 0) {
    els.collection.append(h('option', { value: '', text: 'No collections' }));
    els.collection.disabled = true;
  } else {
    els.collection.disabled = false;
    els.collection.value = state.collections.some((c) => c.id === wanted) ? wanted : defaultCollection().id;
  }
  renderCollectionSummary();
}

async function loadBatches({ keep = '' } = {}) {
  const cid = els.collection.value;
  state.batches = [];
  els.batch.replaceChildren(h('option', { value: '', text: 'All batches' }));
  els.batch.disabled = true;
  if (!cid) return;
  const data = await api(`${API}/review/batches?collection=${encodeURIComponent(cid)}`);
  if (cid !== els.collection.value) return; // the user moved on
  state.batches = (Array.isArray(data?.items) ? data.items : []).slice().sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
  els.batch.append(...state.batches.map((b) => h('option', { value: b.id, text: batchLabel(b) })));
  els.batch.value = state.batches.some((b) => b.id === keep) ? keep : '';
  els.batch.disabled = state.batches.length === 0;
}

/** Re-reads counts after a decision without disturbing the pickers. */
async function refreshCounts() {
  try {
    const [cols, batches] = await Promise.all([
      api(`${API}/collections`),
      els.collection.value ? api(`${API}/review/batches?collection=${encodeURIComponent(els.collection.value)}`) : null,
    ]);
    if (Array.isArray(cols?.items)) {
      state.collections = cols.items;
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

// ---------------------------------------------------------------- images

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

async function loadImages({ append = false } = {}) {
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
    const data = await api(imagesQuery(append ? state.next : null), { signal: ctl.signal });
    const items = Array.isArray(data?.items) ? data.items : [];
    if (!append) resetGrid();
    const firstNew = state.images.length;
    addImages(items);
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
    if (err?.name === 'AbortError') return;
    if (!append) {
      resetGrid();
      showEmpty('Images could not be loaded.');
    }
    say(`Could not load images. ${err.message}`, 'error');
  } finally {
    if (state.loadCtl === ctl) {
      els.grid.setAttribute('aria-busy', 'false');
      els.loadMore.disabled = false;
      els.refresh.disabled = false;
    }
  }
}

function resetGrid() {
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

function showEmpty(text) {
  els.empty.textContent = text;
  els.empty.hidden = false;
  els.grid.hidden = true;
}

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

function batchSeq(batchId) {
  return state.batches.find((b) => b.id === batchId)?.seq;
}

function stampTitle(img) {
  const seq = batchSeq(img.batchId);
  return `Stamp ${img.stampIndex}${seq !== undefined ? ` · batch ${seq}` : ''}`;
}

function altText(img) {
  const bands = Array.isArray(img.bands) && img.bands.length ? `, bands ${img.bands.join(' ')}` : '';
  return `Stamp ${img.stampIndex} of collection ${img.collectionName ?? img.collectionId}${bands}`;
}

function positionNodes(img) {
  if (!hasPosition(img)) {
    return [h('span', { class: 'muted', text: img.stripCoordinates ? 'coordinates stripped' : 'no position' })];
  }
  const nodes = [
    h('span', { class: 'pos-dec', text: decimalPos(img.ra, img.dec) }),
    h('span', { class: 'pos-sex', text: sexagesimal(img.ra, img.dec) }),
  ];
  const notes = [];
  if (img.wcsQuality && img.wcsQuality !== 'full') notes.push(WCS_LABEL[img.wcsQuality] ?? `WCS ${img.wcsQuality}`);
  if (img.stripCoordinates) notes.push('coordinates stripped on publish');
  if (notes.length) nodes.push(h('span', { class: 'pos-note', text: notes.join(' · ') }));
  return nodes;
}

// Cards show rule ids (description on hover) so a grid of hundreds stays
// scannable; the full-size view spells every rule out.
function rulesNodes(img, full) {
  const rules = Array.isArray(img.matchedRules) ? img.matchedRules : [];
  const reasons = Array.isArray(img.verdictReasons) ? img.verdictReasons : [];
  const out = [];
  if (rules.length && full) {
    out.push(h('ul', { class: 'rules' }, rules.map((r) => h('li', null, h('code', { text: r.id }), r.description ? ` ${r.description}` : ''))));
  } else if (rules.length) {
    out.push(h('ul', { class: 'rules compact' }, rules.map((r) => h('li', null, h('code', { text: r.id, title: r.description ?? '' })))));
  }
  if (reasons.length) {
    out.push(h('ul', { class: 'reasons' }, reasons.map((r) => h('li', { text: r }))));
  }
  if (!out.length) out.push(h('span', { class: 'muted', text: 'no rule matched' }));
  return out;
}

function decisionNodes(d) {
  if (!d) return [h('span', { class: 'muted', text: 'none yet' })];
  return [
    h('span', null, actionBadge(d.action), ' by ', h('strong', { text: d.actor ?? '?' }), ', ', timeEl(d.at)),
    d.reason ? h('q', { class: 'reason', text: d.reason }) : null,
  ];
}

function row(label, ...value) {
  return h('div', { class: 'meta-row' }, h('dt', { text: label }), h('dd', null, ...value));
}

function metaList(img, { full = false } = {}) {
  return h('dl', { class: 'meta' },
    row('Position', ...positionNodes(img)),
    row('Bands', Array.isArray(img.bands) && img.bands.length ? img.bands.join(' ') : '—'),
    row('Preset', img.preset ?? '—'),
    full ? row('Size', `${img.width} × ${img.height} px`) : null,
    row('Rules', ...rulesNodes(img, full)),
    full ? row('Policy version', String(img.policyVersion ?? '—')) : null,
    row('Last decision', ...decisionNodes(img.lastDecision)),
    full ? row('Collection', `${img.collectionName ?? img.collectionId} (owner ${img.owner ?? '?'})`) : null,
    full ? row('Image id', h('code', { text: img.id })) : null,
  );
}

function fillCard(card, img) {
  const tid = `t-${img.id}`;
  const did = `d-${img.id}`;
  card.setAttribute('aria-labelledby', tid);
  card.setAttribute('aria-describedby', did);
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
    figure.classList.add('broken');
    figure.append(h('span', { class: 'thumb-error', text: 'Preview unavailable — refresh the page' }));
  }, { once: true });

  const err = state.resultFor.get(img.id);
  const ownNote = isReviewer && !img.canDecide
    ? h('p', { class: 'card-note', text: 'Your collection — another reviewer decides' })
    : null;

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
          'aria-label': `View stamp ${img.stampIndex} full size`,
          text: 'View',
        })),
      h('div', { id: did, class: 'card-details' },
        h('p', { class: 'badges' }, verdictBadge(img.verdict), ' ', stateBadge(img.state)),
        metaList(img),
        err ? h('p', { class: 'card-error', text: `Last action failed: ${err}` }) : null),
      ownNote),
  );
  card.classList.toggle('stale', Boolean(els.state.value) && img.state !== els.state.value);
  card.classList.toggle('has-error', Boolean(err));
  card.classList.toggle('locked', !img.canDecide);
  syncSelected(card, img.id);
}

function refreshCard(id) {
  const card = state.cardById.get(id);
  const img = state.imageById.get(id);
  if (card && img) fillCard(card, img);
}

function updateCount() {
  const n = state.images.length;
  els.resultCount.textContent = n ? `(${n}${state.next ? '+' : ''})` : '';
  els.loadMore.textContent = state.next ? `Load more (showing ${n})` : 'Load more';
}

// ---------------------------------------------------------------- read-only mode

function applyMode() {
  const anyDecidable = state.images.some((i) => i.canDecide);
  const readOnly = !isReviewer || (state.images.length > 0 && !anyDecidable);
  state.readOnly = readOnly;
  els.actions.hidden = readOnly;
  els.selectAll.hidden = readOnly;
  els.selectNone.hidden = readOnly;
  els.selectedCount.hidden = readOnly;
  els.toolbar.classList.toggle('toolbar-readonly', readOnly);
  els.grid.setAttribute('aria-multiselectable', readOnly ? 'false' : 'true');
  if (readOnly) {
    const base = "You can see your collection's images; EPO reviewers decide.";
    els.readonlyNote.textContent = isReviewer
      ? `${base} You own this collection, so another reviewer must approve or reject its images (separation of duties).`
      : base;
    els.readonlyNote.hidden = false;
    if (state.selected.size) clearSelection({ quiet: true });
  } else {
    els.readonlyNote.hidden = true;
  }
  for (const card of state.cardById.values()) {
    if (readOnly) card.removeAttribute('aria-selected');
    else syncSelected(card, card.dataset.imageId);
  }
}

// ---------------------------------------------------------------- selection and focus

function syncSelected(card, id) {
  if (state.readOnly) {
    card.removeAttribute('aria-selected');
    return;
  }
  card.setAttribute('aria-selected', state.selected.has(id) ? 'true' : 'false');
}

function setSelected(id, on) {
  if (state.readOnly || !state.imageById.has(id)) return;
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  const card = state.cardById.get(id);
  if (card) syncSelected(card, id);
}

function toggle(id) {
  setSelected(id, !state.selected.has(id));
  state.anchorId = id;
  updateToolbar();
}

function selectRange(fromId, toId) {
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

function selectAll() {
  if (state.readOnly) return;
  for (const img of state.images) setSelected(img.id, true);
  updateToolbar();
  say(`${plural(state.selected.size, 'image')} selected`);
}

function clearSelection({ quiet = false } = {}) {
  const had = state.selected.size;
  for (const id of [...state.selected]) setSelected(id, false);
  state.selected.clear();
  updateToolbar();
  if (had && !quiet) say('Selection cleared');
}

function selectedImages() {
  return state.images.filter((i) => state.selected.has(i.id));
}

function updateToolbar() {
  const sel = selectedImages();
  const decidable = sel.filter((i) => i.canDecide).length;
  els.selectedCount.textContent = sel.length === decidable || sel.length === 0
    ? `${sel.length} selected`
    : `${sel.length} selected (${decidable} you can decide)`;
  const off = state.busy || state.readOnly || decidable === 0;
  els.approve.disabled = off;
  els.reject.disabled = off;
  els.undo.disabled = off;
  els.selectNone.disabled = sel.length === 0;
  els.selectAll.disabled = state.images.length === 0 || sel.length === state.images.length;
}

function setRoving(id) {
  if (state.focusId && state.focusId !== id) state.cardById.get(state.focusId)?.setAttribute('tabindex', '-1');
  state.focusId = id;
  state.cardById.get(id)?.setAttribute('tabindex', '0');
}

function focusCard(id) {
  const card = state.cardById.get(id);
  if (!card) return;
  setRoving(id);
  card.focus();
  card.scrollIntoView({ block: 'nearest' });
}

/** Cards per visual row, read from layout (the grid reflows with the window). */
function columns() {
  const cards = els.cards.children;
  if (cards.length === 0) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  for (const c of cards) {
    if (c.offsetTop !== top) break;
    n++;
  }
  return Math.max(1, n);
}

function onGridKey(e) {
  const card = e.target.closest?.('.card');
  if (!card || e.target !== card) return; // let the inner View button behave normally
  const id = card.dataset.imageId;
  const idx = state.images.findIndex((i) => i.id === id);
  const n = state.images.length;
  if (idx < 0 || e.altKey) return;
  const cols = columns();
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

function onGridClick(e) {
  const card = e.target.closest?.('.card');
  if (!card) return;
  const id = card.dataset.imageId;
  setRoving(id);
  if (e.target.closest('.view') || state.readOnly) {
    openViewer(id);
    return;
  }
  if (e.shiftKey && state.anchorId) {
    selectRange(state.anchorId, id);
  } else {
    toggle(id);
  }
}

// ---------------------------------------------------------------- decisions

async function decide(action, reason, ids = null) {
  if (state.readOnly) {
    say("Read-only: EPO reviewers decide on this collection's images.");
    return;
  }
  if (state.busy) return;
  const targets = ids ? ids.map((id) => state.imageById.get(id)).filter(Boolean) : selectedImages();
  if (targets.length === 0) {
    say('Select one or more images first (click, or Space on the focused image).');
    return;
  }
  const allowed = targets.filter((i) => i.canDecide);
  const skipped = targets.length - allowed.length;
  if (allowed.length === 0) {
    say('You cannot decide on the selected images: they belong to your own collection.', 'error');
    return;
  }
  state.busy = true;
  updateToolbar();
  for (const img of allowed) state.cardById.get(img.id)?.setAttribute('aria-busy', 'true');
  say(`${action === 'approve' ? 'Approving' : action === 'reject' ? 'Rejecting' : 'Undoing'} ${plural(allowed.length, 'image')}…`);
  try {
    const body = { imageIds: allowed.map((i) => i.id), action };
    if (reason) body.reason = reason;
    const data = await api(`${API}/review/decisions`, { method: 'POST', body });
    const results = new Map((Array.isArray(data?.results) ? data.results : []).map((r) => [r.imageId, r]));
    const now = new Date().toISOString();
    let ok = 0;
    const failures = [];
    for (const img of allowed) {
      const r = results.get(img.id);
      if (r?.ok) {
        ok++;
        if (typeof r.state === 'string') img.state = r.state;
        img.lastDecision = { action, actor: user.username, at: now, reason: reason ?? null };
        state.resultFor.delete(img.id);
        setSelected(img.id, false);
      } else {
        const msg = r ? errorText(r.error) : 'no result returned';
        state.resultFor.set(img.id, msg);
        failures.push(`${stampTitle(img)}: ${msg}`);
      }
      refreshCard(img.id);
    }
    const parts = [];
    if (ok) parts.push(`${ok} ${ACTION_PAST[action]}`);
    if (failures.length) parts.push(`${failures.length} failed`);
    if (skipped) parts.push(`${skipped} skipped (your own collection)`);
    say([parts.join(', ') || 'Nothing changed', ...failures], failures.length ? 'error' : 'ok');
    state.anchorId = null;
  } catch (err) {
    say(`Could not ${action} ${plural(allowed.length, 'image')}. ${err.message}`, 'error');
  } finally {
    for (const img of allowed) state.cardById.get(img.id)?.removeAttribute('aria-busy');
    state.busy = false;
    updateToolbar();
    refreshCounts();
    loadAudit();
  }
}

function openReject() {
  if (state.readOnly) {
    say("Read-only: EPO reviewers decide on this collection's images.");
    return;
  }
  if (state.busy) return;
  const sel = selectedImages();
  const allowed = sel.filter((i) => i.canDecide);
  if (allowed.length === 0) {
    say(sel.length ? 'You cannot decide on the selected images: they belong to your own collection.' : 'Select one or more images first (click, or Space on the focused image).');
    return;
  }
  state.rejectIds = allowed.map((i) => i.id);
  els.rejectSummary.textContent = `Reject ${plural(allowed.length, 'image')}: ${allowed.slice(0, 8).map((i) => stampTitle(i).toLowerCase()).join(', ')}${allowed.length > 8 ? ', …' : ''}.`;
  els.rejectConfirm.textContent = `Reject ${plural(allowed.length, 'image')}`;
  els.rejectReason.value = '';
  els.rejectError.hidden = true;
  els.rejectReason.removeAttribute('aria-invalid');
  els.rejectDialog.showModal();
  els.rejectReason.focus();
}

function confirmReject(e) {
  e.preventDefault();
  const reason = els.rejectReason.value.trim();
  if (!reason) {
    els.rejectError.textContent = 'Enter a reason: it is shown to the PI and kept in the audit trail.';
    els.rejectError.hidden = false;
    els.rejectReason.setAttribute('aria-invalid', 'true');
    els.rejectReason.focus();
    return;
  }
  const ids = state.rejectIds;
  els.rejectDialog.close('confirm');
  decide('reject', reason, ids);
}

// ---------------------------------------------------------------- audit

function auditItem(item, { withImage }) {
  const img = item.imageId ? state.imageById.get(item.imageId) : null;
  const subject = withImage && item.imageId
    ? h('span', { class: 'audit-subject' }, img ? stampTitle(img).toLowerCase() : h('code', { text: String(item.imageId).slice(0, 12) }))
    : null;
  const detail = typeof item.detail === 'string' && item.detail ? item.detail : null;
  return h('li', { class: 'audit-item' },
    h('div', { class: 'audit-line' },
      actionBadge(item.action),
      subject ? ' ' : null, subject,
      ' by ', h('strong', { text: item.actor ?? '?' })),
    item.reason ? h('q', { class: 'reason', text: item.reason }) : null,
    detail ? h('p', { class: 'audit-detail', text: detail }) : null,
    h('p', { class: 'audit-when' }, timeEl(item.at), item.policyVersion ? ` · policy ${item.policyVersion}` : ''));
}

function sortNewest(items) {
  return items.slice().sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
}

/** Also re-run when images arrive, so entries can name stamps instead of ids. */
function renderAudit() {
  const items = state.auditItems;
  if (!items) return;
  const shown = items.slice(0, AUDIT_SHOWN);
  els.audit.replaceChildren(...shown.map((i) => auditItem(i, { withImage: true })));
  if (items.length === 0) els.audit.append(h('li', { class: 'audit-empty muted', text: 'No decisions recorded yet.' }));
  if (items.length > shown.length) els.audit.append(h('li', { class: 'audit-empty muted', text: `Showing the newest ${shown.length} of ${items.length} entries.` }));
}

async function loadAudit() {
  state.auditCtl?.abort();
  const ctl = new AbortController();
  state.auditCtl = ctl;
  const cid = els.collection.value;
  state.auditItems = null;
  if (!cid) {
    els.audit.replaceChildren();
    return;
  }
  els.audit.setAttribute('aria-busy', 'true');
  try {
    const data = await api(`${API}/collections/${encodeURIComponent(cid)}/audit`, { signal: ctl.signal });
    state.auditItems = sortNewest(Array.isArray(data?.items) ? data.items : []);
    renderAudit();
  } catch (err) {
    if (err?.name === 'AbortError') return;
    state.auditItems = null;
    els.audit.replaceChildren(h('li', { class: 'audit-empty error-text', text: `Audit trail could not be loaded. ${err.message}` }));
  } finally {
    if (state.auditCtl === ctl) els.audit.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- full-size viewer

function applyZoom() {
  const img = els.viewerImg;
  const z = state.viewerZoom;
  img.classList.toggle('fit', z === 'fit');
  img.classList.toggle('pixelated', z !== 'fit' && Number(z) > 1);
  if (z === 'fit') {
    img.removeAttribute('width');
  } else if (img.naturalWidth) {
    img.width = img.naturalWidth * Number(z);
  } else {
    img.removeAttribute('width');
  }
  for (const b of els.viewer.querySelectorAll('[data-zoom]')) b.setAttribute('aria-pressed', String(b.dataset.zoom === z));
}

async function openViewer(id) {
  const img = state.imageById.get(id);
  if (!img) return;
  state.viewerId = id;
  setRoving(id);
  els.viewerTitle.textContent = `${stampTitle(img)} — ${img.collectionName ?? img.collectionId}`;
  els.viewerImgError.hidden = true;
  els.viewerImg.hidden = false;
  els.viewerImg.removeAttribute('width');
  els.viewerImg.alt = altText(img);
  els.viewerImg.src = img.previewUrl;
  renderFrameButtons(img);
  applyZoom();
  els.viewerMeta.replaceChildren(
    h('p', { class: 'badges' }, verdictBadge(img.verdict), ' ', stateBadge(img.state)),
    metaList(img, { full: true }),
  );
  const idx = state.images.findIndex((i) => i.id === id);
  els.viewerPrev.disabled = idx <= 0;
  els.viewerNext.disabled = idx < 0 || idx >= state.images.length - 1;
  if (!els.viewer.open) {
    els.viewer.showModal();
    els.viewerClose.focus();
  }
  els.viewerScroll.scrollTo(0, 0);
  els.viewerAudit.replaceChildren(h('li', { class: 'audit-empty muted', text: 'Loading…' }));
  try {
    const data = await api(`${API}/images/${encodeURIComponent(id)}/audit`);
    if (state.viewerId !== id) return;
    const items = sortNewest(Array.isArray(data?.items) ? data.items : []);
    els.viewerAudit.replaceChildren(...items.map((i) => auditItem(i, { withImage: false })));
    if (items.length === 0) els.viewerAudit.append(h('li', { class: 'audit-empty muted', text: 'No entries yet.' }));
  } catch (err) {
    if (state.viewerId !== id) return;
    els.viewerAudit.replaceChildren(h('li', { class: 'audit-empty error-text', text: `Could not load the audit trail. ${err.message}` }));
  }
}

// Flipbook subjects: the colour image and one grey frame per band, as volunteers will see them.
function renderFrameButtons(img) {
  const frames = Array.isArray(img.frames) ? img.frames : [];
  els.viewerFrames.hidden = frames.length === 0;
  if (!frames.length) {
    els.viewerFrames.replaceChildren();
    return;
  }
  const views = [{ label: 'colour', url: img.previewUrl }, ...frames.map((f) => ({ label: f.band, url: f.previewUrl }))];
  const buttons = views.map((v, i) =>
    h('button', { type: 'button', class: 'btn btn-small', 'data-frame': v.label, 'aria-pressed': String(i === 0), text: v.label }));
  buttons.forEach((b, i) => b.addEventListener('click', () => {
    els.viewerImgError.hidden = true;
    els.viewerImg.hidden = false;
    els.viewerImg.src = views[i].url;
    els.viewerImg.alt = `${altText(img)} (${views[i].label})`;
    for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
  }));
  els.viewerFrames.replaceChildren(...buttons);
}

function stepViewer(delta) {
  const idx = state.images.findIndex((i) => i.id === state.viewerId);
  const next = state.images[idx + delta];
  if (next) openViewer(next.id);
}

// ---------------------------------------------------------------- global keys

function isTypingTarget(t) {
  return t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
}

function anyDialogOpen() {
  return els.rejectDialog.open || els.viewer.open || els.help.open;
}

function openHelp() {
  if (!els.help.open) els.help.showModal();
}

function onDocumentKey(e) {
  if (e.defaultPrevented || anyDialogOpen() || isTypingTarget(e.target)) return;
  const key = e.key;
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && (key === 'a' || key === 'A')) {
    if (state.readOnly || state.images.length === 0) return;
    e.preventDefault();
    selectAll();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  switch (key) {
    case 'a': case 'A':
      e.preventDefault();
      decide('approve');
      break;
    case 'r': case 'R':
      e.preventDefault();
      openReject();
      break;
    case 'u': case 'U':
      e.preventDefault();
      decide('undo');
      break;
    case '?':
      e.preventDefault();
      openHelp();
      break;
    case 'Escape':
      if (state.selected.size) {
        e.preventDefault();
        clearSelection();
      }
      break;
    default:
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  els.collection.addEventListener('change', async () => {
    writeUrl();
    state.batches = [];
    renderCollectionSummary();
    resetGrid();
    els.grid.setAttribute('aria-busy', 'true');
    loadAudit();
    try {
      await loadBatches();
    } catch (err) {
      say(`Could not load batches. ${err.message}`, 'error');
    }
    writeUrl();
    loadImages();
  });
  for (const sel of [els.batch, els.verdict, els.state]) {
    sel.addEventListener('change', () => {
      writeUrl();
      loadImages();
    });
  }
  els.refresh.addEventListener('click', () => {
    loadImages();
    loadAudit();
    refreshCounts();
  });
  els.loadMore.addEventListener('click', () => loadImages({ append: true }));
  els.auditRefresh.addEventListener('click', () => loadAudit());

  els.cards.addEventListener('click', onGridClick);
  els.cards.addEventListener('keydown', onGridKey);
  els.cards.addEventListener('mousedown', (e) => {
    if (e.shiftKey && e.target.closest?.('.card')) e.preventDefault(); // no text selection on shift+click
  });
  els.cards.addEventListener('focusin', (e) => {
    const card = e.target.closest?.('.card');
    if (card) setRoving(card.dataset.imageId);
  });

  els.selectAll.addEventListener('click', selectAll);
  els.selectNone.addEventListener('click', () => clearSelection());
  els.approve.addEventListener('click', () => decide('approve'));
  els.reject.addEventListener('click', openReject);
  els.undo.addEventListener('click', () => decide('undo'));

  els.rejectForm.addEventListener('submit', confirmReject);
  els.rejectCancel.addEventListener('click', () => els.rejectDialog.close('cancel'));
  els.rejectReason.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      els.rejectForm.requestSubmit();
    }
  });
  els.rejectReason.addEventListener('input', () => {
    if (!els.rejectError.hidden && els.rejectReason.value.trim()) {
      els.rejectError.hidden = true;
      els.rejectReason.removeAttribute('aria-invalid');
    }
  });
  els.rejectDialog.addEventListener('close', () => {
    if (state.focusId) state.cardById.get(state.focusId)?.focus();
  });

  els.viewerClose.addEventListener('click', () => els.viewer.close());
  els.viewerPrev.addEventListener('click', () => stepViewer(-1));
  els.viewerNext.addEventListener('click', () => stepViewer(1));
  els.viewer.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || isTypingTarget(e.target)) return;
    if (e.target === els.viewerScroll) return; // arrows scroll the image there
    if (e.key === 'ArrowLeft') { e.preventDefault(); stepViewer(-1); }
    if (e.key === 'ArrowRight') { e.preventDefault(); stepViewer(1); }
  });
  els.viewer.addEventListener('click', (e) => {
    if (e.target === els.viewer) els.viewer.close(); // click on the backdrop
  });
  els.viewer.addEventListener('close', () => {
    els.viewerImg.removeAttribute('src');
    const id = state.viewerId;
    state.viewerId = null;
    if (id) focusCard(id);
  });
  for (const b of els.viewer.querySelectorAll('[data-zoom]')) {
    b.addEventListener('click', () => {
      state.viewerZoom = b.dataset.zoom;
      applyZoom();
    });
  }
  els.viewerImg.addEventListener('load', applyZoom);
  els.viewerImg.addEventListener('error', () => {
    if (!els.viewerImg.getAttribute('src')) return;
    els.viewerImg.hidden = true;
    els.viewerImgError.hidden = false;
  });

  els.helpOpen.addEventListener('click', openHelp);
  els.helpClose.addEventListener('click', () => els.help.close());

  document.addEventListener('keydown', onDocumentKey);
}

async function init() {
  els.userName.textContent = user.username || 'unknown user';
  els.userRoles.replaceChildren(...user.roles.map((r) => h('span', { class: 'role', text: r })));
  els.logoutCsrf.value = csrfToken;

  const fromUrl = readUrl();
  els.verdict.value = fromUrl.verdict;
  els.state.value = fromUrl.state;
  wire();
  applyMode();
  updateToolbar();

  try {
    await loadCollections();
  } catch (err) {
    els.collection.replaceChildren(h('option', { value: '', text: 'Unavailable' }));
    showEmpty('Collections could not be loaded.');
    els.grid.setAttribute('aria-busy', 'false');
    say(`Could not load collections. ${err.message}`, 'error');
    return;
  }
  loadAudit();
  try {
    await loadBatches({ keep: fromUrl.batch });
  } catch (err) {
    say(`Could not load batches. ${err.message}`, 'error');
  }
  writeUrl();
  await loadImages();
}

init();

// Back on a tab that stopped polling while hidden: read the progress again.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && uploadsTimer === null) void renderUploads(currentCollection());
});
