// @ts-check
// What stopped in the collection (GET /collections/:id/failures): datasets
// that failed to retrieve or convert, stamps that failed, upload batches that
// failed, are blocked or wait. Each with its reason; the owner and admins get
// a Retry button (the retry is audited on the server), reviewers only see.

import { API, api, messageOf } from './api.js';
import { h } from './dom.js';
import { plural, timeEl } from './format.js';
import { user } from './session.js';
import { currentCollection } from './state.js';
import { say } from './status.js';
import { renderUploads } from './upload-progress.js';

/**
 * @typedef {{ id: string, datasetId: string, datasetType: string, dataId: Record<string, string | number>, band: string | null, file: string | null, error: string | null, attempts: number, at: string }} FailedArtifact
 * @typedef {{ id: string, seq: number, state: string, mode: string, error: string | null, at: string }} StoppedBatch
 * @typedef {{ imageId: string, groupKey: string, stamp: number, datasetIds: string[], error: string | null }} FailedStamp
 * @typedef {{ artifacts: FailedArtifact[], batches: StoppedBatch[], stamps: FailedStamp[], moreStamps: boolean }} Failures
 */

/** @param {FailedArtifact} a */
function datasetText(a) {
  const id = Object.entries(a.dataId ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${a.datasetType}${id ? ` ${id}` : ''}`;
}

/**
 * Runs a retry and tells the result; then reads the failures and the upload progress again.
 * @param {import('./types.js').Collection} c
 * @param {string} path below /collections/:id
 * @param {string} what for the status line
 */
async function retry(c, path, what) {
  try {
    /** @type {{ items?: unknown[] } | null} */
    const r = await api(`${API}/collections/${encodeURIComponent(c.id)}${path}`, { method: 'POST' });
    const n = Array.isArray(r?.items) ? r.items.length : 1;
    say(`${what}: ${n} taken up again`, 'ok');
  } catch (err) {
    say([`${what} failed`, messageOf(err)], 'error');
  }
  await renderFailures(c);
  void renderUploads(c);
}

/** @param {import('./types.js').Collection | null} c */
export async function renderFailures(c) {
  const box = document.getElementById('failures');
  const list = document.getElementById('failures-list');
  if (!box || !list) return;
  /** @type {Failures | null} */
  let f = null;
  try {
    f = c ? await api(`${API}/collections/${encodeURIComponent(c.id)}/failures`) : null;
  } catch {
    f = null;
  }
  if (!c || currentCollection()?.id !== c.id || !f || f.artifacts.length + f.batches.length + f.stamps.length === 0) {
    box.hidden = true;
    return;
  }
  const mayRetry = user.username === c.owner || user.roles.includes('admin');
  /** @param {string} label @param {string} path @param {string} what */
  const button = (label, path, what) => (mayRetry ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => void retry(c, path, what) }, label) : null);
  /** @type {(HTMLLIElement | null)[]} */
  const rows = [
    ...f.batches.map((b) =>
      h('li', { class: `failure failure-batch` },
        h('span', { text: `Upload batch ${b.seq} (${b.mode}) ${b.state}` }),
        b.error ? h('span', { class: 'failure-reason', text: `: ${b.error}` }) : null,
        h('span', { class: 'muted' }, ' (since ', timeEl(b.at), ')'),
        ' ',
        button(`Retry upload batch ${b.seq}`, `/batches/${encodeURIComponent(b.id)}/retry`, `Upload batch ${b.seq}`))),
    ...f.artifacts.map((a) =>
      h('li', { class: 'failure failure-dataset' },
        h('span', { text: `Dataset ${datasetText(a)}` }),
        h('span', { class: 'failure-reason', text: `: ${a.error ?? 'failed'}` }),
        h('span', { class: 'muted' }, ` (dataset ${a.datasetId}${a.file ? `, file ${a.file}` : ''}; ${plural(a.attempts, 'attempt')}, last `, timeEl(a.at), ')'),
        ' ',
        button(`Retry ${datasetText(a)}`, `/artifacts/${encodeURIComponent(a.id)}/retry`, `Dataset ${datasetText(a)}`))),
    ...f.stamps.map((s) =>
      h('li', { class: 'failure failure-stamp' },
        h('span', { text: `Stamp ${s.stamp} of ${s.groupKey}` }),
        h('span', { class: 'failure-reason', text: `: ${s.error ?? 'failed'}` }))),
    f.moreStamps ? h('li', { class: 'muted', text: 'more failed stamps than listed: bridge status --failed shows them all' }) : null,
    f.artifacts.length > 1 && mayRetry ? h('li', null, button(`Retry all ${f.artifacts.length} failed datasets`, '/artifacts/retry', 'Failed datasets')) : null,
  ];
  list.replaceChildren(...rows.filter((r) => r !== null));
  box.hidden = false;
}
