// @ts-check
// Approve, reject (with a reason, asked for in a dialog) and undo, on the
// selected images; each image succeeds or fails on its own.

import { API, api, messageOf } from './api.js';
import { loadAudit } from './audit.js';
import { refreshCounts } from './collections.js';
import { els } from './elements.js';
import { errorText, plural } from './format.js';
import { refreshCard } from './grid.js';
import { stampTitle } from './image-details.js';
import { canApply, notDecidableBecause } from './decidable.js';
import { untilText } from './countdown.js';
import { user } from './session.js';
import { selectedElsewhere, selectedImages, setSelected, updateToolbar } from './selection.js';
import { state } from './state.js';
import { say } from './status.js';
import { filterParams } from './url-filters.js';

/** @typedef {import('./types.js').DecisionAction} DecisionAction */

/** @type {Record<DecisionAction, string>} */
const ACTION_PAST = { approve: 'approved', reject: 'rejected', undo: 'undone' };
/** @type {Record<DecisionAction, string>} */
const ACTION_ING = { approve: 'Approving', reject: 'Rejecting', undo: 'Undoing' };

/** Decisions on more images than this ask first, naming the count (a slip of Ctrl+A, A costs nothing). */
export const BULK_CONFIRM = 20;
/** The API takes at most this many images per request. */
const CHUNK = 500;

/**
 * Asks before a decision on many images (or one that skips the delay).
 * Cancel has the focus, so a repeated key press cannot confirm by accident.
 * @param {string} title
 * @param {string} text
 * @param {string} okText
 * @returns {Promise<boolean>}
 */
export function confirmDecision(title, text, okText) {
  els.confirmTitle.textContent = title;
  els.confirmText.textContent = text;
  els.confirmOk.textContent = okText;
  els.confirmDialog.returnValue = '';
  els.confirmDialog.showModal();
  els.confirmCancel.focus();
  return new Promise((resolve) => {
    els.confirmDialog.addEventListener('close', () => resolve(els.confirmDialog.returnValue === 'confirm'), { once: true });
  });
}

/**
 * The server refuses what the reviewer may not do anyway; these checks spare
 * the request and say why.
 * @param {DecisionAction} action
 * @param {string} [reason]
 * @param {string[] | null} [ids] the reject dialog's images (or one card's Undo); otherwise the selection
 * @param {{ publishNow?: boolean, confirmed?: boolean }} [options] publishNow: admins approve without the delay
 */
export async function decide(action, reason, ids = null, options = {}) {
  if (state.readOnly) {
    say("Read-only: EPO reviewers decide on this collection's images.");
    return;
  }
  if (state.busy) return;
  const targets = ids ? ids.map((id) => state.imageById.get(id)).filter((i) => i !== undefined) : selectedImages();
  // Selected on other pages ("select all N matching", or picked before paging): the server says which the action applies to.
  const elsewhere = ids ? ids.filter((id) => !state.imageById.has(id)) : selectedElsewhere();
  if (targets.length === 0 && elsewhere.length === 0) {
    say('Select one or more images first (click, or Space on the focused image).');
    return;
  }
  const allowed = targets.filter((i) => canApply(i, action));
  let allowedElsewhere = /** @type {string[]} */ ([]);
  if (elsewhere.length) {
    try {
      allowedElsewhere = await applicableIds(action, elsewhere);
    } catch (err) {
      say(`Could not check the images selected on other pages. ${messageOf(err)}`, 'error');
      return;
    }
  }
  const count = allowed.length + allowedElsewhere.length;
  const skipped = targets.length + elsewhere.length - count;
  if (count === 0) {
    const why = targets.length ? notDecidableBecause(targets[0]) : null;
    say(`Nothing to ${action === 'undo' ? 'undo' : action}: ${why ?? `no selected image takes ${action === 'undo' ? 'an undo' : `a${action === 'approve' ? 'n' : ''} ${action}`} now`}${targets.length + elsewhere.length > 1 ? ' (and the rest alike)' : ''}.`, 'error');
    return;
  }
  if (!options.confirmed && (count > BULK_CONFIRM || options.publishNow)) {
    const n = plural(count, 'image');
    const ok = options.publishNow
      ? await confirmDecision(`Approve and publish ${n} now?`, `${n} will be public at once, without the publishing delay: Undo will not take them back.`, `Approve and publish ${n}`)
      : await confirmDecision(`${action === 'approve' ? 'Approve' : action === 'reject' ? 'Reject' : 'Undo'} ${n}?`, `${action === 'approve' ? `${n} will be published when the publishing delay ends; until then Undo takes them back.` : `This changes ${n} at once.`}${allowedElsewhere.length ? ` ${allowedElsewhere.length.toLocaleString('en')} of them are on other pages.` : ''}`, `${action === 'approve' ? 'Approve' : action === 'reject' ? 'Reject' : 'Undo'} ${n}`);
    if (!ok) {
      say('Nothing was changed.');
      return;
    }
  }
  state.busy = true;
  updateToolbar();
  for (const img of allowed) state.cardById.get(img.id)?.setAttribute('aria-busy', 'true');
  const allIds = [...allowed.map((i) => i.id), ...allowedElsewhere];
  say(`${ACTION_ING[action]} ${plural(count, 'image')}…`);
  try {
    /** @type {Map<string, import('./types.js').DecisionResult>} */
    const results = new Map();
    for (let i = 0; i < allIds.length; i += CHUNK) {
      /** @type {{ imageIds: string[], action: DecisionAction, reason?: string, publishNow?: boolean }} */
      const body = { imageIds: allIds.slice(i, i + CHUNK), action };
      if (reason) body.reason = reason;
      if (options.publishNow) body.publishNow = true;
      /** @type {{ results: import('./types.js').DecisionResult[] } | null} */
      const data = await api(`${API}/review/decisions`, { method: 'POST', body });
      for (const r of Array.isArray(data?.results) ? data.results : []) results.set(r.imageId, r);
      if (allIds.length > CHUNK) say(`${ACTION_ING[action]} ${plural(count, 'image')}… ${Math.min(i + CHUNK, allIds.length).toLocaleString('en')} done`);
    }
    const now = new Date().toISOString();
    let ok = 0;
    const failures = [];
    /** @type {string | undefined} */
    let publishAt;
    for (const img of allowed) {
      const r = results.get(img.id);
      if (r?.ok) {
        ok++;
        if (typeof r.state === 'string') img.state = r.state;
        img.publishAfter = r.publishAfter ?? null;
        publishAt ??= r.publishAfter;
        // As the server recorded it, so the card is right without a reload.
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
    for (const id of allowedElsewhere) {
      const r = results.get(id);
      if (r?.ok) {
        ok++;
        publishAt ??= r.publishAfter;
        state.selected.delete(id);
      } else {
        // The server's message names the image (image-name.ts), so it is readable without its card.
        failures.push(r ? errorText(r.error) : `image ${id}: no result returned`);
      }
    }
    if (state.selected.size === 0) state.allMatching = null;
    const parts = [];
    if (ok) parts.push(`${ok.toLocaleString('en')} ${ACTION_PAST[action]}`);
    if (ok && action === 'approve' && publishAt && Date.parse(publishAt) > Date.now()) parts.push(`publishing in ${untilText(Date.parse(publishAt) - Date.now())} unless undone`);
    if (failures.length) parts.push(`${failures.length} failed`);
    if (skipped) parts.push(`${skipped.toLocaleString('en')} skipped (no ${action} applies to them)`);
    const shown = failures.slice(0, MAX_LISTED);
    if (failures.length > MAX_LISTED) shown.push(`…and ${failures.length - MAX_LISTED} more`);
    say([parts.join(', ') || 'Nothing changed', ...shown], failures.length ? 'error' : 'ok');
    state.anchorId = null;
  } catch (err) {
    say(`Could not ${action} ${plural(count, 'image')}. ${messageOf(err)}`, 'error');
  } finally {
    for (const img of allowed) state.cardById.get(img.id)?.removeAttribute('aria-busy');
    state.busy = false;
    updateToolbar();
    refreshCounts();
    loadAudit();
  }
}

/** Failures listed one per line under the summary; the rest are counted. */
const MAX_LISTED = 20;

/**
 * Which of these ids (selected on pages not shown) the action applies to now,
 * as the server sees them under the current filters.
 * @param {DecisionAction} action
 * @param {string[]} ids
 */
async function applicableIds(action, ids) {
  const q = filterParams();
  q.set('decidable', action);
  /** @type {{ ids: string[] } | null} */
  const data = await api(`${API}/review/image-ids?${q}`);
  const ok = new Set(Array.isArray(data?.ids) ? data.ids : []);
  return ids.filter((id) => ok.has(id));
}

/** What to do once the open reject dialog's decision is sent (the viewer shows the next image). */
/** @type {(() => void) | null} */
let afterReject = null;

/**
 * The dialog remembers which images it was opened for, whatever the selection does meanwhile.
 * @param {string[] | null} [ids] these images (the viewer's one) instead of the selection
 * @param {(() => void) | null} [then] called after the rejection was sent
 */
export async function openReject(ids = null, then = null) {
  if (state.readOnly) {
    say("Read-only: EPO reviewers decide on this collection's images.");
    return;
  }
  if (state.busy) return;
  const sel = ids ? ids.map((id) => state.imageById.get(id)).filter((i) => i !== undefined) : selectedImages();
  const allowed = sel.filter((i) => canApply(i, 'reject'));
  let elsewhere = /** @type {string[]} */ ([]);
  if (!ids && selectedElsewhere().length) {
    try {
      elsewhere = await applicableIds('reject', selectedElsewhere());
    } catch (err) {
      say(`Could not check the images selected on other pages. ${messageOf(err)}`, 'error');
      return;
    }
  }
  const count = allowed.length + elsewhere.length;
  if (count === 0) {
    say(sel.length ? `Nothing to reject: ${notDecidableBecause(sel[0]) ?? 'already rejected'}.` : state.selected.size ? 'Nothing to reject: no selected image takes a rejection now.' : 'Select one or more images first (click, or Space on the focused image).', sel.length || state.selected.size ? 'error' : 'info');
    return;
  }
  afterReject = then;
  state.rejectIds = [...allowed.map((i) => i.id), ...elsewhere];
  const named = allowed.slice(0, 8).map((i) => stampTitle(i));
  const more = count - named.length;
  els.rejectSummary.textContent = `Reject ${plural(count, 'image')}: ${named.join(', ')}${more ? `${named.length ? ', and ' : ''}${plural(more, 'other')}${elsewhere.length ? ` (${elsewhere.length.toLocaleString('en')} on other pages)` : ''}` : ''}.`;
  els.rejectConfirm.textContent = `Reject ${plural(count, 'image')}`;
  els.rejectReason.value = '';
  els.rejectError.hidden = true;
  els.rejectReason.removeAttribute('aria-invalid');
  els.rejectDialog.showModal();
  els.rejectReason.focus();
}

/** @param {Event} e */
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
  const then = afterReject;
  afterReject = null;
  els.rejectDialog.close('confirm');
  // A reason typed in the dialog is the confirmation, whatever the count.
  decide('reject', reason, ids, { confirmed: true }).then(() => then?.());
}

export function wireDecisions() {
  els.approve.addEventListener('click', () => decide('approve'));
  els.approveNow.addEventListener('click', () => decide('approve', undefined, null, { publishNow: true }));
  els.confirmCancel.addEventListener('click', () => els.confirmDialog.close('cancel'));
  // A card's own Undo (inside its publishing delay) acts on that image alone.
  els.cards.addEventListener('click', (e) => {
    const b = e.target instanceof Element ? e.target.closest('.undo-one') : null;
    if (!(b instanceof HTMLElement) || !b.dataset.imageId) return;
    e.stopPropagation();
    decide('undo', 'undone within the publishing delay', [b.dataset.imageId]);
  }, { capture: true });
  els.reject.addEventListener('click', () => openReject());
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
    if (els.viewer.open) return; // the viewer keeps the focus
    if (state.focusId) state.cardById.get(state.focusId)?.focus();
  });
}
