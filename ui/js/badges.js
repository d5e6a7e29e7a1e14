// @ts-check
// Badges for an image's policy verdict and state and for audit actions.
// Their classes (verdict-*, state-*, action-*) carry the colours in review.css.

import { h } from './dom.js';

/** @type {Record<string, string>} */
const VERDICT_LABEL = {
  pending_review: 'Needs review',
  auto_approved: 'Auto-approved',
  rejected: 'Rejected by policy',
  held: 'Held',
};
/** @type {Record<string, string>} */
const ACTION_LABEL = { approve: 'Approved', reject: 'Rejected', undo: 'Undone' };

/** @param {string | null | undefined} verdict */
export function verdictBadge(verdict) {
  return h('span', { class: `badge verdict-${verdict ?? 'unknown'}` }, 'Policy: ', VERDICT_LABEL[String(verdict)] ?? String(verdict ?? 'unknown'));
}

/** @param {string | null | undefined} s */
export function stateBadge(s) {
  return h('span', { class: `badge state-${s ?? 'unknown'}` }, 'State: ', String(s ?? 'unknown'));
}

/**
 * Actions without a label of their own (policy_rejected, settings, ...) are spelt out from their code.
 * @param {string | null | undefined} action
 */
export function actionBadge(action) {
  const a = String(action ?? '?');
  return h('span', { class: `badge action-${a}` }, ACTION_LABEL[a] ?? a.charAt(0).toUpperCase() + a.slice(1).replace(/_/g, ' '));
}

/**
 * One word for where an image stands, on its card (the viewer spells out
 * verdict and state apart): the policy's verdict matters only while the
 * image waits in quarantine; afterwards its state says it all.
 * @param {import('./types.js').ReviewImage} img
 */
export function statusBadge(img) {
  const by = img.lastDecision?.action?.startsWith('policy_') === false ? img.lastDecision.actor : null;
  /** @type {[string, string]} */
  let kv;
  if (img.state === 'quarantined') {
    kv = img.verdict === 'held' ? ['held', 'Held by policy'] : img.verdict === 'pending_review' ? ['pending_review', 'Needs review'] : ['unknown', 'Awaiting policy'];
  } else if (img.state === 'approved') {
    kv = ['approved', img.verdict === 'auto_approved' && !by ? 'Auto-approved' : 'Approved'];
  } else if (img.state === 'rejected') {
    kv = ['rejected', by ? `Rejected by ${by}` : 'Rejected by policy'];
  } else {
    kv = [img.state, ({ published: 'Published', uploaded: 'On Zooniverse', retracted: 'Retracted', failed: 'Failed to convert' })[img.state] ?? img.state];
  }
  return h('span', { class: `badge status-${kv[0]}` }, kv[1]);
}
