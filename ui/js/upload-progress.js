// @ts-check
// Publishing and upload progress of the collection: its totals, then one line
// per upload batch. While something is on its way the figures are read again
// every few seconds.

import { API, api } from './api.js';
import { h } from './dom.js';
import { currentCollection } from './state.js';

const UPLOADS_POLL_MS = 4000;
// Settled now, but a reviewer may approve more at any time.
const UPLOADS_IDLE_POLL_MS = 15000;
/** @type {number | null} */
let uploadsTimer = null;

/** @param {import('./types.js').Collection | null} c */
export async function renderUploads(c) {
  if (uploadsTimer !== null) clearTimeout(uploadsTimer);
  uploadsTimer = null;
  const box = document.getElementById('uploads');
  const list = document.getElementById('uploads-list');
  if (!box || !list) return;
  /** @type {import('./types.js').Uploads | null} */
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
  if (!c || !data || (!items.length && !data.published && !data.approved)) {
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

/** Polling stops on a hidden tab; coming back to it reads the progress again. */
export function resumeUploadsWhenVisible() {
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && uploadsTimer === null) void renderUploads(currentCollection());
  });
}
