// @ts-check
// Publishing and upload progress of the collection: its totals, then one line
// per upload batch (a Zooniverse subject-set upload; not a delivery, which is
// what one poll of the Butler found). While something is on its way the
// figures are read again every few seconds. When nothing goes to Zooniverse
// (no project, or no credentials on this bridge) the box says so and points
// to the export and to the PI dashboard, where a project is set.

import { API, api } from './api.js';
import { h } from './dom.js';
import { plural } from './format.js';
import { user } from './session.js';
import { currentCollection } from './state.js';

/**
 * GET /collections/:id/uploads, with whether anything is uploaded at all.
 * @typedef {import('./types.js').Uploads & { uploading?: boolean, zooniverseProjectId?: string | null }} Release
 */

const UPLOADS_POLL_MS = 4000;
// Settled now, but a reviewer may approve more at any time.
const UPLOADS_IDLE_POLL_MS = 15000;
/** @type {number | null} */
let uploadsTimer = null;

/**
 * Where the images go when nothing is uploaded: said plainly, with the export
 * (owner and admins may download it) and the PI dashboard (where a project is set).
 * @param {import('./types.js').Collection} c
 * @param {Release} data
 */
function notUploadedNote(c, data) {
  const project = data.zooniverseProjectId ?? null;
  const mayExport = c.owner === user.username || user.roles.includes('admin');
  const exportHref = `${API}/collections/${encodeURIComponent(c.id)}/export`;
  const dashboard = h('a', { href: `/pi#c=${encodeURIComponent(c.id)}`, id: 'uploads-dashboard' }, project ? 'the PI dashboard' : 'set a project on the PI dashboard');
  const why = project
    ? `Nothing is uploaded to Zooniverse project ${project}: this bridge has no Zooniverse credentials.`
    : 'Nothing is uploaded to Zooniverse: this collection has no Zooniverse project.';
  const next = mayExport
    ? h('li', { class: 'upload-next' },
        h('a', { href: exportHref, download: '', id: 'uploads-export' }, 'Download the export'),
        ' (the approved images and manifest.csv) to add them in the Project Builder yourself',
        project ? '; settings are on ' : ', or ', dashboard, '.')
    : h('li', { class: 'upload-next' }, 'The owner can download the export and add the images in the Project Builder, or ', dashboard, '.');
  return [h('li', { class: 'upload-note', text: why }), next];
}

/**
 * @param {import('./types.js').UploadBatch} u
 * @param {boolean} uploading
 */
function batchLine(u, uploading) {
  if (!uploading || u.mode === 'export') {
    const where = u.state === 'manifested' || u.mode === 'export' ? 'ready for the export, not uploaded' : u.state;
    return h('li', { class: `upload upload-${u.state}`, 'data-batch-seq': String(u.seq) },
      h('span', { text: `Upload batch ${u.seq}: ${plural(u.total, 'subject')}, ${where}` }),
      u.error ? h('span', { class: 'upload-error', text: ` — ${u.error}` }) : null);
  }
  return h('li', { class: `upload upload-${u.state}`, 'data-batch-seq': String(u.seq) },
    h('span', { text: `Upload batch ${u.seq} (${u.mode}): ` }),
    h('progress', { max: String(Math.max(1, u.total)), value: String(u.linked), 'aria-label': `upload batch ${u.seq}: ${u.linked} of ${u.total} linked` }),
    h('span', { text: ` ${u.linked}/${u.total} linked · ${u.state}` }),
    u.error ? h('span', { class: 'upload-error', text: ` — ${u.error}` }) : null);
}

/** @param {import('./types.js').Collection | null} c */
export async function renderUploads(c) {
  if (uploadsTimer !== null) clearTimeout(uploadsTimer);
  uploadsTimer = null;
  const box = document.getElementById('uploads');
  const list = document.getElementById('uploads-list');
  if (!box || !list) return;
  /** @type {Release | null} */
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
  // An older bridge does not say: then it uploads as before.
  const uploading = data.uploading !== false;
  // Drawn again only when something changed: a link or button keeps its focus over the re-reads.
  const sig = JSON.stringify([c.id, data]);
  if (box.dataset.sig === sig && !box.hidden) return;
  box.dataset.sig = sig;
  const totals = `${data.approved} approved waiting to publish · ${data.published} published`;
  list.replaceChildren(
    h('li', { class: 'muted release-totals', text: uploading ? `${totals} · ${data.linked}/${data.total} subjects linked${data.settled ? '' : ' · updating…'}` : totals }),
    ...(uploading ? [] : notUploadedNote(c, data)),
    ...items.map((u) => batchLine(u, uploading)),
  );
  box.hidden = false;
}

/** Polling stops on a hidden tab; coming back to it reads the progress again. */
export function resumeUploadsWhenVisible() {
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && uploadsTimer === null) void renderUploads(currentCollection());
  });
}
