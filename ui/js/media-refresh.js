// @ts-check
// Signed media URLs expire (minutes); a page left open renews them before
// they do, in place: the cards keep their selection, focus and scroll, and
// no thumbnail turns into "unavailable". A thumbnail that fails anyway asks
// for its own renewal at once.

import { API, api, messageOf } from './api.js';
import { state } from './state.js';
import { say } from './status.js';

/** @typedef {{ id: string, previewUrl: string | null, frames: { band: string, previewUrl: string }[], previewExpiresAt: string }} FreshUrls */

/** When each image's URLs arrived, to renew them once 70% of their lifetime has passed. */
const receivedAt = new Map();
/** Ids whose thumbnail failed to load: renewed on the next tick, whatever their expiry says. */
const failed = new Set();
let running = false;
/** Ids per request (they travel in the query string). */
const CHUNK = 100;

/** @param {import('./types.js').ReviewImage[]} items just loaded */
export function noteLoaded(items) {
  const now = Date.now();
  for (const img of items) receivedAt.set(img.id, now);
}

/** Renewals asked for by failed loads, per image: a preview that fails with fresh links too is given up after a few. */
const attempts = new Map();

/**
 * @param {string} id the card whose thumbnail did not load
 * @returns {boolean} false when renewing was tried enough already
 */
export function renewSoon(id) {
  const n = (attempts.get(id) ?? 0) + 1;
  attempts.set(id, n);
  if (n > 3) return false;
  failed.add(id);
  return true;
}

/** @param {import('./types.js').ReviewImage} img @param {number} now */
function due(img, now) {
  if (failed.has(img.id)) return true;
  if (!img.previewExpiresAt) return false;
  const end = Date.parse(img.previewExpiresAt);
  const start = receivedAt.get(img.id) ?? now;
  return now >= start + (end - start) * 0.7;
}

async function tick() {
  if (running) return;
  const now = Date.now();
  const ids = state.images.filter((img) => due(img, now)).map((img) => img.id);
  if (!ids.length) return;
  running = true;
  try {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      /** @type {{ items: FreshUrls[] } | null} */
      const data = await api(`${API}/review/images/refresh?ids=${chunk.join(',')}`);
      const at = Date.now();
      for (const fresh of Array.isArray(data?.items) ? data.items : []) apply(fresh, at);
      for (const id of chunk) failed.delete(id);
    }
  } catch (err) {
    say(`Could not renew the image links; they may stop showing. ${messageOf(err)}`, 'error');
  } finally {
    running = false;
  }
}

/** @param {FreshUrls} fresh @param {number} at */
function apply(fresh, at) {
  const img = state.imageById.get(fresh.id);
  if (!img) return;
  img.previewUrl = fresh.previewUrl;
  img.previewExpiresAt = fresh.previewExpiresAt;
  if (Array.isArray(fresh.frames)) img.frames = fresh.frames;
  receivedAt.set(img.id, at);
  const figure = state.cardById.get(img.id)?.querySelector('.thumb');
  const thumb = figure?.querySelector('img');
  if (thumb && fresh.previewUrl) {
    figure?.classList.remove('broken');
    figure?.querySelector('.thumb-error')?.remove();
    thumb.src = fresh.previewUrl;
  }
}

export function startMediaRefresh() {
  setInterval(() => void tick(), 1000);
}
