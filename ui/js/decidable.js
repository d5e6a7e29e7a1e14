// @ts-check
// What a reviewer can do with an image now, so the page offers only that
// (the server decides for real): images no decision applies to cannot be
// selected, and each says why.

import { user } from './session.js';

/** @typedef {import('./types.js').ReviewImage} ReviewImage */
/** @typedef {import('./types.js').DecisionAction} DecisionAction */

/** The policy's own rejection or approval, as opposed to a reviewer's. @param {ReviewImage} img */
function byPolicy(img) {
  const a = img.lastDecision?.action ?? '';
  return !a || a.startsWith('policy_');
}

/**
 * @param {ReviewImage} img
 * @param {DecisionAction} action
 */
export function canApply(img, action) {
  if (!img.canDecide) return false;
  if (action === 'approve') return img.state === 'quarantined' && img.verdict === 'pending_review';
  if (action === 'reject') return (img.state === 'quarantined' && img.verdict === 'pending_review') || img.state === 'approved';
  return (img.state === 'approved' || img.state === 'rejected') && !byPolicy(img);
}

/**
 * Why no decision applies to the image (null when one does).
 * @param {ReviewImage} img
 * @returns {string | null}
 */
export function notDecidableBecause(img) {
  if (img.owner === user.username) return 'your own collection: another reviewer decides';
  if (canApply(img, 'approve') || canApply(img, 'reject') || canApply(img, 'undo')) return null;
  if (img.state === 'quarantined' && img.verdict === 'held') return 'held by the policy until a fact changes';
  if (img.state === 'quarantined' && !img.verdict) return 'waiting for its policy verdict';
  if (img.state === 'rejected') return 'rejected by the policy';
  if (img.state === 'failed') return 'failed to convert';
  return `already ${img.state}`;
}
