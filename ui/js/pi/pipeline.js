// @ts-check
// The pipeline of one collection, live: datasets discovered, retrieved,
// converted and failed (each failure named, with Retry), images quarantined,
// approved, published and uploaded, why the images are where they are (with
// the next step), the last poll's error, the Zooniverse subject sets (or,
// without a project, where the images go instead), the export download and
// the takedown. Read again every few
// seconds while something moves, every half minute when settled.

import { API, api, messageOf } from '../api.js';
import { h } from '../dom.js';
import { plural, timeEl } from '../format.js';
import { fetchWhy, whyNodes } from '../why.js';
import { confirmAction } from './confirm.js';
import { say } from './status.js';

const BUSY_MS = 3000;
const IDLE_MS = 30000;
/** @type {number | null} */
let timer = null;
/** Which collection the live view follows; a render for another is dropped. */
let following = '';

/**
 * @typedef {{ uploadBatchId: string, seq: number, mode: string, state: string, total: number, linked: number, failed: number, subjectSetId: string | null, error: string | null }} UploadItem
 * @typedef {{ approved: number, published: number, linked: number, total: number, settled: boolean, uploading?: boolean, items: UploadItem[] }} Uploads
 * @typedef {{ id: string, datasetId: string, datasetType: string, dataId: Record<string, string | number>, band: string | null, file: string | null, error: string | null, attempts: number, at: string }} FailedArtifact
 * @typedef {{ artifacts: FailedArtifact[], batches: { id: string, seq: number, state: string, mode: string, error: string | null, at: string }[], stamps: { stamp: number, groupKey: string, error: string | null }[], moreStamps: boolean }} Failures
 */

/** @param {FailedArtifact} a */
export function datasetName(a) {
  const id = Object.entries(a.dataId ?? {}).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${a.datasetType}${id ? ` ${id}` : ''}`;
}

/** Zooniverse's project builder pages (never fetched: plain links). @param {string} project @param {string | null} [set] */
function labUrl(project, set) {
  return `https://www.zooniverse.org/lab/${encodeURIComponent(project)}${set ? `/subject-sets/${encodeURIComponent(set)}` : ''}`;
}

/**
 * @param {string} label
 * @param {number} n
 * @param {string} [kind]
 */
function stage(label, n, kind = '') {
  return h('div', { class: `count stage ${kind}` }, h('dt', { text: label }), h('dd', { text: String(n) }));
}

/**
 * @param {import('./types.js').PiCollection} c
 * @param {string} path
 * @param {string} what
 */
async function retry(c, path, what) {
  try {
    /** @type {{ items?: unknown[] } | null} */
    const r = await api(`${API}/collections/${encodeURIComponent(c.id)}${path}`, { method: 'POST' });
    say(`${what}: ${plural(Array.isArray(r?.items) ? r.items.length : 1, 'item')} taken up again`, 'ok');
  } catch (err) {
    say([`${what}: not retried`, messageOf(err)], 'error');
  }
  void refresh(c.id);
}

/**
 * @param {import('./types.js').PiCollection} c
 * @param {number} released images that reached the public store or Zooniverse
 */
async function takedown(c, released) {
  const answer = await confirmAction({
    title: `Take down ${c.collection}?`,
    text: `This removes ${plural(released, 'published image')} of ${c.collection} from Zooniverse and the public store, and retires the collection: it is no longer polled. Images still in review stay in quarantine.`,
    ok: `Take down ${plural(released, 'image')}`,
    reasonLabel: 'Reason (recorded in the audit log)',
  });
  if (!answer.ok) return;
  try {
    /** @type {{ results?: { ok?: boolean }[] } | null} */
    const r = await api(`${API}/retractions`, { method: 'POST', body: { scope: 'collection', collectionId: c.id, reason: answer.reason } });
    const n = Array.isArray(r?.results) ? r.results.filter((x) => x.ok !== false).length : 0;
    say(`${c.collection} was taken down: ${plural(n, 'image')} removed, the collection retired.`, 'ok');
  } catch (err) {
    say(['The takedown failed', messageOf(err)], 'error');
  }
  void refresh(c.id);
}

/**
 * @param {import('./types.js').PiCollection} c
 * @param {Failures | null} f
 * @param {boolean} mayChange
 */
function failuresList(c, f, mayChange) {
  if (!f || f.artifacts.length + f.batches.length + f.stamps.length === 0) return h('p', { class: 'muted', text: 'Nothing has failed.' });
  /** @param {string} label @param {string} path @param {string} what */
  const btn = (label, path, what) => (mayChange ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => void retry(c, path, what) }, label) : null);
  return h('ul', { class: 'pi-failures', id: 'pi-failures' },
    f.artifacts.map((a) => h('li', { class: 'failure' },
      h('strong', { text: datasetName(a) }),
      h('span', { class: 'failure-reason', text: `: ${a.error ?? 'failed'}` }),
      h('span', { class: 'muted' }, ` (file ${a.file ?? 'not retrieved'}; dataset ${a.datasetId}; ${plural(a.attempts, 'attempt')}, last `, timeEl(a.at), ') '),
      btn(`Retry ${datasetName(a)}`, `/artifacts/${encodeURIComponent(a.id)}/retry`, `Dataset ${datasetName(a)}`))),
    f.artifacts.length > 1 ? h('li', null, btn(`Retry all ${f.artifacts.length} failed datasets`, '/artifacts/retry', 'Failed datasets')) : null,
    f.batches.map((b) => h('li', { class: 'failure' },
      h('strong', { text: `Upload batch ${b.seq} (${b.mode}) ${b.state}` }),
      b.error ? h('span', { class: 'failure-reason', text: `: ${b.error}` }) : null, ' ',
      btn(`Retry upload batch ${b.seq}`, `/batches/${encodeURIComponent(b.id)}/retry`, `Upload batch ${b.seq}`))),
    f.batches.length > 1 ? h('li', null, btn(`Retry all ${f.batches.length} upload batches`, '/batches/retry', 'Upload batches')) : null,
    f.stamps.map((s) => h('li', { class: 'failure' }, h('strong', { text: `Stamp ${s.stamp} of ${s.groupKey}` }), h('span', { class: 'failure-reason', text: `: ${s.error ?? 'failed'}` }))),
    f.moreStamps ? h('li', { class: 'muted', text: 'More stamps failed than are listed here.' }) : null);
}

/**
 * Draws the pipeline of collection `id` into #pipeline and schedules the next read.
 * @param {string} id
 */
export async function refresh(id) {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  following = id;
  const box = document.getElementById('pipeline');
  if (!box) return;
  const base = `${API}/collections/${encodeURIComponent(id)}`;
  /** @type {[import('./types.js').PiCollection | null, Uploads | null, Failures | null, import('../why.js').Why | null]} */
  let got;
  try {
    got = /** @type {typeof got} */ (await Promise.all([api(base), api(`${base}/uploads`), api(`${base}/failures`), fetchWhy(id)]));
  } catch (err) {
    if (following === id) box.replaceChildren(h('p', { class: 'error-text', text: `The pipeline could not be read: ${messageOf(err)}` }));
    return;
  }
  const [c, up, f, why] = got;
  if (following !== id || !c || !document.getElementById('pipeline')) return;
  const counts = /** @type {{ artifacts?: Record<string, number>, images?: Record<string, number> }} */ (c.counts ?? {});
  const a = counts.artifacts ?? {};
  const i = counts.images ?? {};
  const n = (/** @type {Record<string, number>} */ o, /** @type {string} */ k) => Number(o[k] ?? 0);
  const discovered = Object.values(a).reduce((x, y) => x + Number(y), 0);
  const moving = n(a, 'discovered') + n(a, 'retrieved') + n(i, 'approved') > 0 || (up ? !up.settled : false);
  const released = n(i, 'published') + n(i, 'uploaded');
  const exportable = n(i, 'approved') + released;
  const sets = [...new Set((up?.items ?? []).map((b) => b.subjectSetId).filter((s) => s !== null))];
  const mayChange = box.dataset.mayChange === 'true';
  // Drawn again only when something changed, so focus and reading place survive the re-reads.
  const sig = JSON.stringify([c.counts, c.lastPollError, c.lastPolledAt, c.status, c.zooniverseProjectId, up, f, why]);
  if (box.dataset.sig !== sig) box.replaceChildren(...[
    h('p', { class: 'pipeline-state', text: moving ? 'Work is under way: this view updates every few seconds.' : 'Nothing is moving right now.' }),
    c.lastPollError ? h('p', { class: 'note note-error', text: `The last poll failed: ${c.lastPollError}` }) : null,
    h('p', { class: 'muted' }, 'Last polled ', c.lastPolledAt ? timeEl(c.lastPolledAt) : 'not yet', '.'),
    h('h4', { class: 'pi-h4', text: 'Datasets' }),
    h('dl', { class: 'counts stages' }, stage('discovered', discovered), stage('waiting to retrieve', n(a, 'discovered')), stage('retrieved', n(a, 'retrieved') + n(a, 'converted')), stage('converted', n(a, 'converted')), stage('failed', n(a, 'failed'), n(a, 'failed') ? 'stage-bad' : '')),
    h('h4', { class: 'pi-h4', text: 'Images' }),
    h('dl', { class: 'counts stages' }, stage('in quarantine', n(i, 'quarantined')), stage('approved', n(i, 'approved') + released), stage('rejected', n(i, 'rejected')), stage('published', released), stage('uploaded', n(i, 'uploaded')), stage('failed', n(i, 'failed'), n(i, 'failed') ? 'stage-bad' : '')),
    why && why.total ? h('h4', { class: 'pi-h4', text: 'Outcomes and next steps' }) : null,
    why && why.total ? h('div', { class: 'why', id: 'pi-why' }, ...whyNodes(why, `Outcomes of ${c.collection}`)) : null,
    up && up.uploading === false ? h('p', { class: 'note', id: 'pi-not-uploaded', text: c.zooniverseProjectId
      ? `Nothing is uploaded to Zooniverse project ${c.zooniverseProjectId}: this bridge has no Zooniverse credentials. ${plural(up.items.length, 'upload batch', 'upload batches')} wait with their manifests; the export below holds the approved images for the Project Builder.`
      : `Nothing is uploaded to Zooniverse: this collection has no Zooniverse project. Set one under Upload settings, or download the export below and add the images in the Project Builder yourself.` }) : null,
    up && up.uploading !== false && (up.items.length || up.published || up.approved) ? h('p', { class: 'muted', text: `Zooniverse: ${up.linked} of ${up.total} subjects linked in ${plural(up.items.length, 'upload batch', 'upload batches')}${up.approved ? `; ${up.approved} approved waiting to publish` : ''}.` }) : null,
    c.zooniverseProjectId ? h('ul', { class: 'pi-links' },
      h('li', null, h('a', { href: labUrl(c.zooniverseProjectId), text: `Zooniverse project ${c.zooniverseProjectId} (project builder)` })),
      sets.map((s) => h('li', null, h('a', { href: labUrl(/** @type {string} */ (c.zooniverseProjectId), s), text: `Subject set ${s}` })))) : null,
    h('h4', { class: 'pi-h4', text: 'What stopped' }),
    failuresList(c, f, mayChange),
    mayChange ? h('div', { class: 'form-actions' },
      exportable ? h('a', { class: 'btn', href: `${base}/export`, download: '', id: 'export-link' }, `Download export (${plural(exportable, 'image')} and manifest.csv)`) : h('span', { class: 'muted', text: 'The export is available once images are approved.' }),
      released ? h('button', { type: 'button', class: 'btn btn-reject', onclick: () => void takedown(c, released) }, 'Take down…') : null) : null,
  ].filter((x) => x !== null));
  box.dataset.sig = sig;
  if (!document.hidden) timer = setTimeout(() => void refresh(id), moving ? BUSY_MS : IDLE_MS);
}

/** Stops following (another collection, or none). */
export function stopPipeline() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  following = '';
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && following && timer === null) void refresh(following);
});
