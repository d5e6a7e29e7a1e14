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
import { user } from './session.js';
import { selectedImages, setSelected, updateToolbar } from './selection.js';
import { state } from './state.js';
import { say } from './status.js';

/** @typedef {import('./types.js').DecisionAction} DecisionAction */

/** @type {Record<DecisionAction, string>} */
const ACTION_PAST = { approve: 'approved', reject: 'rejected', undo: 'undone' };

/**
 * The server refuses what the reviewer may not do anyway; these checks spare
 * the request and say why.
 * @param {DecisionAction} action
 * @param {string} [reason]
 * @param {string[] | null} [ids] the reject dialog's images; otherwise the selection
 */
export async function decide(action, reason, ids = null) {
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
    /** @type {{ imageIds: string[], action: DecisionAction, reason?: string }} */
    const body = { imageIds: allowed.map((i) => i.id), action };
    if (reason) body.reason = reason;
    /** @type {{ results: import('./types.js').DecisionResult[] } | null} */
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
    if (failures.length) parts.push(`${failures.length} failed`);
    if (skipped) parts.push(`${skipped} skipped (your own collection)`);
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

/** The dialog remembers which images it was opened for, whatever the selection does meanwhile. */
export function openReject() {
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
  els.rejectDialog.close('confirm');
  decide('reject', reason, ids);
}

export function wireDecisions() {
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
}
