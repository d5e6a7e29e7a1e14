// @ts-check
// The filters live in the URL too, so a reload or a shared link shows the same images.

import { els } from './elements.js';
import { isReviewer } from './session.js';

/** Reviewers start on the work waiting for them; PIs on everything of theirs. */
export function readUrl() {
  const q = new URLSearchParams(location.search);
  /**
   * @param {string} key
   * @param {string[]} allowed
   * @param {string} fallback
   */
  const pick = (key, allowed, fallback) => {
    if (!q.has(key)) return fallback;
    const v = q.get(key) ?? '';
    if (v === 'all' || v === '') return '';
    return allowed.includes(v) ? v : fallback;
  };
  return {
    collection: q.get('collection') ?? '',
    batch: q.get('batch') ?? '',
    verdict: pick('verdict', ['pending_review', 'held', 'auto_approved', 'rejected'], isReviewer ? 'pending_review' : ''),
    state: pick('state', ['quarantined', 'approved', 'rejected', 'published', 'uploaded', 'retracted', 'failed'], isReviewer ? 'quarantined' : ''),
  };
}

/** `all` is written out because a missing filter means the role's default. */
export function writeUrl() {
  const q = new URLSearchParams();
  if (els.collection.value) q.set('collection', els.collection.value);
  if (els.batch.value) q.set('batch', els.batch.value);
  q.set('verdict', els.verdict.value || 'all');
  q.set('state', els.state.value || 'all');
  const url = `${location.pathname}?${q}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, '', url);
}

/** The filters as query parameters, shared by the listing and "select all N matching". */
export function filterParams() {
  const q = new URLSearchParams();
  q.set('collection', els.collection.value);
  if (els.batch.value) q.set('batch', els.batch.value);
  if (els.verdict.value) q.set('verdict', els.verdict.value);
  if (els.state.value) q.set('state', els.state.value);
  return q;
}
