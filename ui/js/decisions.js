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
import { selectedImages, setSelected, updateToolbar } from './selection.js';
import { state } from './state.js';
import { say } from './status.js';

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
  if (targets.length === 0) {
    say('Select one or more images first (click, or Space on the focused image).');
    return;
  }
  const allowed = targets.filter((i) => canApply(i, action));
  const skipped = targets.length - allowed.length;
  if (allowed.length === 0) {
    say(`Nothing to ${action === 'undo' ? 'undo' : action}: ${notDecidableBecause(targets[0]) ?? `no reviewer decision to ${action}`}${targets.length > 1 ? ' (and the rest alike)' : ''}.`, 'error');
    return;
  }
  if (!options.confirmed && (allowed.length > BULK_CONFIRM || options.publishNow)) {
    const n = plural(allowed.length, 'image');
    const ok = options.publishNow
      ? await confirmDecision(`Approve and publish ${n} now?`, `${n} will be public at once, without the publishing delay: Undo will not take them back.`, `Approve and publish ${n}`)
      : await confirmDecision(`${action === 'approve' ? 'Approve' : action === 'reject' ? 'Reject' : 'Undo'} ${n}?`, action === 'approve' ? `${n} will be published when the publishing delay ends; until then Undo takes them back.` : `This changes ${n} at once.`, `${action === 'approve' ? 'Approve' : action === 'reject' ? 'Reject' : 'Undo'} ${n}`);
    if (!ok) {
      say('Nothing was changed.');
      return;
    }
  }
  state.busy = true;
  updateToolbar();
  for (const img of allowed) state.cardById.get(img.id)?.setAttribute('aria-busy', 'true');
  say(`${ACTION_ING[action]} ${plural(allowed.length, 'image')}…`);
  try {
    /** @type {Map<string, import('./types.js').DecisionResult>} */
    const results = new Map();
    for (let i = 0; i < allowed.length; i += CHUNK) {
      /** @type {{ imageIds: string[], action: DecisionAction, reason?: string, publishNow?: boolean }} */
      const body = { imageIds: allowed.slice(i, i + CHUNK).map((x) => x.id), action };
      if (reason) body.reason = reason;
      if (options.publishNow) body.publishNow = true;
      /** @type {{ results: import('./types.js').DecisionResult[] } | null} */
      const data = await api(`${API}/review/decisions`, { method: 'POST', body });
      for (const r of Array.isArray(data?.results) ? data.results : []) results.set(r.imageId, r);
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
    const parts = [];
    if (ok) parts.push(`${ok} ${ACTION_PAST[action]}`);
    if (ok && action === 'approve' && publishAt && Date.parse(publishAt) > Date.now()) parts.push(`publishing in ${untilText(Date.parse(publishAt) - Date.now())} unless undone`);
    if (failures.length) parts.push(`${failures.length} failed`);
    if (skipped) parts.push(`${skipped} skipped (no ${action} applies to them)`);
    say([parts.join(', ') || 'Nothing changed', ...failures], failures.length ? 'error' : 'ok');
    state.anchorId = null;
  } catch (err) {
    say(`Could not ${action} ${plural(allowed.length, 'image')}. ${messageOf(err)}`, 'error');
  } finally {
    for (const img of allowed) state.cardById.get(img.id)?.removeAttribute('aria-busy');
    state.busy = false;
    updateToolbar();
    refreshCounts();
    loadAudit();
  }
}

/** What to do once the open reject dialog's decision is sent (the viewer shows the next image). */
/** @type {(() => void) | null} */
let afterReject = null;

/**
 * The dialog remembers which images it was opened for, whatever the selection does meanwhile.
 * @param {string[] | null} [ids] these images (the viewer's one) instead of the selection
 * @param {(() => void) | null} [then] called after the rejection was sent
 */
export function openReject(ids = null, then = null) {
  if (state.readOnly) {
    say("Read-only: EPO reviewers decide on this collection's images.");
    return;
  }
  if (state.busy) return;
  const sel = ids ? ids.map((id) => state.imageById.get(id)).filter((i) => i !== undefined) : selectedImages();
  const allowed = sel.filter((i) => canApply(i, 'reject'));
  if (allowed.length === 0) {
    say(sel.length ? `Nothing to reject: ${notDecidableBecause(sel[0]) ?? 'already rejected'}.` : 'Select one or more images first (click, or Space on the focused image).', sel.length ? 'error' : 'info');
    return;
  }
  afterReject = then;
  state.rejectIds = allowed.map((i) => i.id);
  els.rejectSummary.textContent = `Reject ${plural(allowed.length, 'image')}: ${allowed.slice(0, 8).map((i) => stampTitle(i)).join(', ')}${allowed.length > 8 ? ', …' : ''}.`;
  els.rejectConfirm.textContent = `Reject ${plural(allowed.length, 'image')}`;
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
