// @ts-check
// The page's mutable state, shared by the modules that render and change it.

import { els } from './elements.js';
import { isReviewer } from './session.js';

/**
 * @typedef {import('./types.js').Collection} Collection
 * @typedef {import('./types.js').Batch} Batch
 * @typedef {import('./types.js').ReviewImage} ReviewImage
 * @typedef {import('./types.js').AuditEntry} AuditEntry
 */

/**
 * @typedef {object} PageState
 * @property {Collection[]} collections
 * @property {Batch[]} batches of the current collection
 * @property {ReviewImage[]} images in grid order
 * @property {Map<string, ReviewImage>} imageById
 * @property {Map<string, HTMLElement>} cardById
 * @property {string | null} next the cursor of the page after this one, if any
 * @property {(string | null)[]} pageCursors the cursor that fetched each page seen so far (page 1's is null)
 * @property {number} page the page shown, from 0
 * @property {number} total how many images the filters match, on every page
 * @property {{ total: number, truncated: boolean } | null} allMatching set when "select all N matching" chose every decidable image of the filter
 * @property {Set<string>} selected image ids, on this page and others
 * @property {string | null} anchorId where a Shift range selection starts
 * @property {string | null} focusId the card in the grid's tab order (roving tabindex)
 * @property {boolean} readOnly
 * @property {boolean} busy a decision is being sent
 * @property {AbortController | null} loadCtl
 * @property {AbortController | null} auditCtl
 * @property {string | null} viewerId the image open in the viewer
 * @property {AuditEntry[] | null} auditItems the collection's trail, newest first
 * @property {string} viewerZoom 'fit' or a magnification
 * @property {string[]} rejectIds what the open reject dialog will reject
 * @property {Map<string, string>} resultFor imageId -> error text from the last decision
 */

/** @type {PageState} */
export const state = {
  collections: [],
  batches: [],
  images: [],
  imageById: new Map(),
  cardById: new Map(),
  next: null,
  pageCursors: [null],
  page: 0,
  total: 0,
  allMatching: null,
  selected: new Set(),
  anchorId: null,
  focusId: null,
  readOnly: !isReviewer,
  busy: false,
  loadCtl: null,
  auditCtl: null,
  viewerId: null,
  auditItems: null,
  viewerZoom: 'fit',
  rejectIds: [],
  resultFor: new Map(),
};

/** The collection picked in the sidebar; its <select> is the source of truth. */
export function currentCollection() {
  return state.collections.find((c) => c.id === els.collection.value) ?? null;
}

/** @param {string | null} batchId */
export function batchSeq(batchId) {
  return state.batches.find((b) => b.id === batchId)?.seq;
}
