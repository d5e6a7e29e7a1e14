// @ts-check
// How one image is described, on its card and in the full-size viewer alike:
// its title, alt text and details list.

import { actionBadge } from './badges.js';
import { h } from './dom.js';
import { decimalPos, sexagesimal, timeEl } from './format.js';
import { batchSeq } from './state.js';

/**
 * @typedef {import('./types.js').ReviewImage} ReviewImage
 * @typedef {import('./dom.js').Child} Child
 */

/** @type {Record<string, string>} */
const WCS_LABEL = { full: 'full WCS', position: 'position only', none: 'no WCS' };

/**
 * @param {ReviewImage} img
 * @returns {img is ReviewImage & { ra: number, dec: number }}
 */
function hasPosition(img) {
  return typeof img.ra === 'number' && typeof img.dec === 'number' && Number.isFinite(img.ra) && Number.isFinite(img.dec);
}

/**
 * The image's name a reviewer can say, the same on cards, dialogs, errors
 * and the audit trail: the server's (object id, or tract/patch/stamp and
 * bands), else the stamp and its delivery.
 * @param {ReviewImage} img
 */
export function stampTitle(img) {
  if (img.name) return img.name;
  const seq = batchSeq(img.batchId);
  return `Stamp ${img.stampIndex}${seq !== undefined ? ` · delivery ${seq}` : ''}`;
}

/** @param {ReviewImage} img */
export function altText(img) {
  const bands = Array.isArray(img.bands) && img.bands.length ? `, bands ${img.bands.join(' ')}` : '';
  return `${img.name ?? `Stamp ${img.stampIndex}`} of collection ${img.collectionName ?? img.collectionId}${bands}`;
}

/** @param {ReviewImage} img */
function positionNodes(img) {
  if (!hasPosition(img)) {
    return [h('span', { class: 'muted', text: img.stripCoordinates ? 'coordinates stripped' : 'no position' })];
  }
  const nodes = [
    h('span', { class: 'pos-dec', text: decimalPos(img.ra, img.dec) }),
    h('span', { class: 'pos-sex', text: sexagesimal(img.ra, img.dec) }),
  ];
  const notes = [];
  if (img.wcsQuality && img.wcsQuality !== 'full') notes.push(WCS_LABEL[img.wcsQuality] ?? `WCS ${img.wcsQuality}`);
  if (img.stripCoordinates) notes.push('coordinates stripped on publish');
  if (notes.length) nodes.push(h('span', { class: 'pos-note', text: notes.join(' · ') }));
  return nodes;
}

/**
 * Cards show rule ids (description on hover) so a grid of hundreds stays
 * scannable; the full-size view spells every rule out.
 * @param {ReviewImage} img
 * @param {boolean} full
 */
function rulesNodes(img, full) {
  const rules = Array.isArray(img.matchedRules) ? img.matchedRules : [];
  const reasons = Array.isArray(img.verdictReasons) ? img.verdictReasons : [];
  const out = [];
  if (rules.length && full) {
    out.push(h('ul', { class: 'rules' }, rules.map((r) => h('li', null, h('code', { text: r.id }), r.description ? ` ${r.description}` : ''))));
  } else if (rules.length) {
    out.push(h('ul', { class: 'rules compact' }, rules.map((r) => h('li', null, h('code', { text: r.id, title: r.description ?? '' })))));
  }
  if (reasons.length) {
    out.push(h('ul', { class: 'reasons' }, reasons.map((r) => h('li', { text: r }))));
  }
  if (!out.length) out.push(h('span', { class: 'muted', text: 'no rule matched' }));
  return out;
}

/** @param {import('./types.js').LastDecision | null} d */
function decisionNodes(d) {
  if (!d) return [h('span', { class: 'muted', text: 'none yet' })];
  return [
    h('span', null, actionBadge(d.action), ' by ', h('strong', { text: d.actor ?? '?' }), ', ', timeEl(d.at)),
    d.reason ? h('q', { class: 'reason', text: d.reason }) : null,
  ];
}

/** @type {Record<string, string>} */
const RELEASE_SOURCE = { mapping: 'from the repository', admin: 'set by an admin', unmapped: 'repository not in the release mapping', pi_claim: "the PI's word (registered before releases were derived)" };

/**
 * The pixels' provenance: repository, release (and who says so), dataset type.
 * @param {ReviewImage} img
 */
function provenanceText(img) {
  const source = RELEASE_SOURCE[img.releaseSource] ?? img.releaseSource;
  return `${img.dataRelease ?? 'unknown'} (${source}) · repository ${img.repository} · ${img.datasetType}`;
}

/**
 * Observation time and its age now; unknown counts as just observed for embargoes.
 * @param {ReviewImage} img
 * @returns {Child[]}
 */
function observedNodes(img) {
  if (!img.observedAt) return [h('span', { class: 'muted', text: 'unknown (embargoes treat it as just observed)' })];
  const hours = (Date.now() - Date.parse(img.observedAt)) / 3_600_000;
  const age = hours < 48 ? `${hours.toFixed(1)} h ago` : `${(hours / 24).toFixed(0)} days ago`;
  return [timeEl(img.observedAt), ` · ${age}`];
}

/**
 * @param {string} label
 * @param {...Child} value
 */
function row(label, ...value) {
  return h('div', { class: 'meta-row' }, h('dt', { text: label }), h('dd', null, ...value));
}

/**
 * @param {ReviewImage} img
 * @param {{ full?: boolean }} [options] full: the viewer's complete list, not the card's summary
 */
export function metaList(img, { full = false } = {}) {
  return h('dl', { class: 'meta' },
    // Why an image a verdict or a reviewer had settled is back: the first thing to read.
    img.recheckReason ? row('Back for review', h('strong', { text: img.recheckReason })) : null,
    row('Release', provenanceText(img)),
    row('Observed', ...observedNodes(img)),
    row('Position', ...positionNodes(img)),
    row('Bands', Array.isArray(img.bands) && img.bands.length ? img.bands.join(' ') : '—'),
    row('Preset', img.preset ?? '—'),
    full ? row('Size', `${img.width} × ${img.height} px`) : null,
    row('Rules', ...rulesNodes(img, full)),
    full ? row('Policy version', String(img.policyVersion ?? '—')) : null,
    row('Last decision', ...decisionNodes(img.lastDecision)),
    full ? row('Collection', `${img.collectionName ?? img.collectionId} (owner ${img.owner ?? '?'})`) : null,
    full ? row('Image id', h('code', { text: img.id })) : null,
  );
}
