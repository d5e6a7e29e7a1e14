// @ts-check
// The full-size viewer: the image at a chosen zoom, its flipbook frames, its
// details and its own audit trail, stepping through the grid's images.

import { API, api, messageOf } from './api.js';
import { auditItem, sortNewest } from './audit.js';
import { stateBadge, verdictBadge } from './badges.js';
import { h, isTypingTarget } from './dom.js';
import { els } from './elements.js';
import { altText, metaList, stampTitle } from './image-details.js';
import { canApply, notDecidableBecause } from './decidable.js';
import { decide, openReject } from './decisions.js';
import { focusCard, setRoving } from './selection.js';
import { say } from './status.js';
import { loadImages } from './grid.js';
import { renderPresetButtons } from './viewer-presets.js';
import { state } from './state.js';

/** @typedef {import('./types.js').ReviewImage} ReviewImage */

const zoomButtons = /** @type {NodeListOf<HTMLButtonElement>} */ (els.viewer.querySelectorAll('[data-zoom]'));

function applyZoom() {
  const img = els.viewerImg;
  const z = state.viewerZoom;
  img.classList.toggle('fit', z === 'fit');
  if (z === 'fit' || !img.naturalWidth) img.removeAttribute('width');
  else img.width = img.naturalWidth * Number(z);
  for (const b of zoomButtons) b.setAttribute('aria-pressed', String(b.dataset.zoom === z));
}

/** Which decisions the open image takes, shown as the viewer's buttons. */
function syncDecisionButtons() {
  const img = state.viewerId ? state.imageById.get(state.viewerId) : undefined;
  els.viewerDecide.hidden = state.readOnly || !img;
  if (!img) return;
  els.viewerApproveNext.disabled = state.busy || !canApply(img, 'approve');
  els.viewerRejectNext.disabled = state.busy || !canApply(img, 'reject');
  els.viewerUndo.disabled = state.busy || !canApply(img, 'undo');
}

/**
 * Approve (or undo) the open image, then show the next one: inspecting and
 * deciding a page of images takes one key per image.
 * @param {'approve' | 'undo'} action
 */
async function decideInViewer(action) {
  const id = state.viewerId;
  const img = id ? state.imageById.get(id) : undefined;
  if (!id || !img || !canApply(img, action)) {
    say(img ? `Nothing to ${action} here: ${notDecidableBecause(img) ?? 'no reviewer decision to undo'}.` : 'No image is open.', 'error');
    return;
  }
  await decide(action, undefined, [id]);
  if (state.viewerId !== id) return;
  if (action === 'approve' && state.imageById.get(id)?.state === 'approved') stepViewer(1, { orStay: true });
  else openViewer(id);
}

/** Reject asks for a reason first; the next image follows once it is sent. */
function rejectInViewer() {
  const id = state.viewerId;
  const img = id ? state.imageById.get(id) : undefined;
  if (!id || !img || !canApply(img, 'reject')) {
    say(img ? `Nothing to reject here: ${notDecidableBecause(img) ?? 'already rejected'}.` : 'No image is open.', 'error');
    return;
  }
  openReject([id], () => {
    if (state.viewerId === id) stepViewer(1, { orStay: true });
  });
}

/** @param {string} id */
export async function openViewer(id) {
  const img = state.imageById.get(id);
  if (!img) return;
  state.viewerId = id;
  setRoving(id);
  els.viewerTitle.textContent = `${stampTitle(img)} — ${img.collectionName ?? img.collectionId}`;
  els.viewerBands.hidden = true;
  els.viewerImgError.hidden = true;
  els.viewerImg.hidden = false;
  els.viewerImg.removeAttribute('width');
  els.viewerImg.alt = altText(img);
  // String(): an image without a preview (null) still ends in the load-error note.
  els.viewerImg.src = String(img.previewUrl);
  renderFrameButtons(img);
  void renderPresetButtons(img, altText(img), () => {
    els.viewerBands.hidden = true;
    for (const b of els.viewerFrames.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.frame === 'colour'));
  });
  applyZoom();
  els.viewerMeta.replaceChildren(
    h('p', { class: 'badges' }, verdictBadge(img.verdict), ' ', stateBadge(img.state)),
    metaList(img, { full: true }),
  );
  syncDecisionButtons();
  const idx = state.images.findIndex((i) => i.id === id);
  els.viewerPrev.disabled = idx < 0 || (idx === 0 && state.page === 0);
  els.viewerNext.disabled = idx < 0 || (idx >= state.images.length - 1 && !state.next);
  if (!els.viewer.open) {
    els.viewer.showModal();
    els.viewerClose.focus();
  }
  els.viewerScroll.scrollTo(0, 0);
  els.viewerAudit.replaceChildren(h('li', { class: 'audit-empty muted', text: 'Loading…' }));
  try {
    /** @type {import('./types.js').ItemList<import('./types.js').AuditEntry> | null} */
    const data = await api(`${API}/images/${encodeURIComponent(id)}/audit`);
    if (state.viewerId !== id) return;
    const items = sortNewest(Array.isArray(data?.items) ? data.items : []);
    els.viewerAudit.replaceChildren(...items.map((i) => auditItem(i, { withImage: false })));
    if (items.length === 0) els.viewerAudit.append(h('li', { class: 'audit-empty muted', text: 'No entries yet.' }));
  } catch (err) {
    if (state.viewerId !== id) return;
    els.viewerAudit.replaceChildren(h('li', { class: 'audit-empty error-text', text: `Could not load the audit trail. ${messageOf(err)}` }));
  }
}

/**
 * Flipbook subjects: the colour image and one grey frame per band, as volunteers will see them.
 * @param {ReviewImage} img
 */
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
  const sideBySide = h('button', { type: 'button', class: 'btn btn-small', 'aria-pressed': 'false', text: 'All side by side' });
  const all = [...buttons, sideBySide];
  buttons.forEach((b, i) => b.addEventListener('click', () => {
    els.viewerImgError.hidden = true;
    els.viewerBands.hidden = true;
    els.viewerImg.hidden = false;
    els.viewerImg.src = String(views[i].url);
    els.viewerImg.alt = `${altText(img)} (${views[i].label})`;
    for (const other of all) other.setAttribute('aria-pressed', String(other === b));
  }));
  // Every band next to the colour image, to compare where a feature shows.
  sideBySide.addEventListener('click', () => {
    els.viewerImg.hidden = true;
    els.viewerImgError.hidden = true;
    els.viewerBands.replaceChildren(...views.map((v) => h('figure', null, h('img', { src: String(v.url), alt: `${altText(img)} (${v.label})` }), h('figcaption', { text: v.label }))));
    els.viewerBands.hidden = false;
    for (const other of all) other.setAttribute('aria-pressed', String(other === sideBySide));
  });
  const hadFocus = els.viewerFrames.contains(document.activeElement);
  els.viewerFrames.replaceChildren(...all);
  if (hadFocus) buttons[0].focus();
}

/**
 * @param {number} delta -1 for the previous image in the grid, 1 for the next
 * @param {{ orStay?: boolean }} [options] orStay: at the end, show the same image again (its new state)
 */
async function stepViewer(delta, { orStay = false } = {}) {
  const idx = state.images.findIndex((i) => i.id === state.viewerId);
  const next = state.images[idx + delta];
  if (next) openViewer(next.id);
  else if ((delta > 0 && state.next) || (delta < 0 && state.page > 0)) {
    // Past the page's edge: the viewer goes on into the next (or previous) page.
    await loadImages({ page: state.page + delta, focus: delta > 0 ? 'first' : 'last' });
    const to = state.images[delta > 0 ? 0 : state.images.length - 1];
    if (to) openViewer(to.id);
  } else if (orStay && state.viewerId) {
    openViewer(state.viewerId);
    say('That was the last image on this page.');
  }
}

export function wireViewer() {
  els.viewerClose.addEventListener('click', () => els.viewer.close());
  els.viewerPrev.addEventListener('click', () => stepViewer(-1));
  els.viewerNext.addEventListener('click', () => stepViewer(1));
  els.viewerApproveNext.addEventListener('click', () => decideInViewer('approve'));
  els.viewerUndo.addEventListener('click', () => decideInViewer('undo'));
  els.viewerRejectNext.addEventListener('click', rejectInViewer);
  // On the document, not the dialog: when the viewer rebuilds its buttons the focus may fall back to the body.
  document.addEventListener('keydown', (e) => {
    if (!els.viewer.open) return;
    if (e.altKey || e.ctrlKey || e.metaKey || isTypingTarget(e.target) || els.rejectDialog.open) return;
    const k = e.key.toLowerCase();
    if (!state.readOnly && (k === 'a' || k === 'r' || k === 'u')) {
      e.preventDefault();
      if (state.busy) return;
      if (k === 'a') decideInViewer('approve');
      else if (k === 'u') decideInViewer('undo');
      else rejectInViewer();
      return;
    }
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
  for (const b of zoomButtons) {
    b.addEventListener('click', () => {
      state.viewerZoom = b.dataset.zoom ?? state.viewerZoom;
      applyZoom();
    });
  }
  els.viewerImg.addEventListener('load', applyZoom);
  els.viewerImg.addEventListener('error', () => {
    // Closing the viewer removes src, which is no failure to report.
    if (!els.viewerImg.getAttribute('src')) return;
    els.viewerImg.hidden = true;
    els.viewerImgError.hidden = false;
  });
}
