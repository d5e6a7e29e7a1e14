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
