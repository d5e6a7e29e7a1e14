// @ts-check
// The audit trail: the collection's, in the side panel, and an image's, in the viewer.

import { API, api, isAbortError, messageOf } from './api.js';
import { actionBadge } from './badges.js';
import { h } from './dom.js';
import { els } from './elements.js';
import { timeEl } from './format.js';
import { stampTitle } from './image-details.js';
import { state } from './state.js';

/** @typedef {import('./types.js').AuditEntry} AuditEntry */

const AUDIT_SHOWN = 300;

/**
 * @param {AuditEntry} item
 * @param {{ withImage: boolean }} options withImage: name the image (the collection's trail mixes them)
 */
export function auditItem(item, { withImage }) {
  const img = item.imageId ? state.imageById.get(item.imageId) : null;
  const subject = withImage && item.imageId
    ? h('span', { class: 'audit-subject' }, item.imageName ?? (img ? stampTitle(img) : h('code', { text: String(item.imageId) })))
    : null;
  const detail = typeof item.detail === 'string' && item.detail ? item.detail : null;
  return h('li', { class: 'audit-item' },
    h('div', { class: 'audit-line' },
      actionBadge(item.action),
      subject ? ' ' : null, subject,
      ' by ', h('strong', { text: item.actor ?? '?' })),
    item.reason ? h('q', { class: 'reason', text: item.reason }) : null,
    detail ? h('p', { class: 'audit-detail', text: detail }) : null,
    h('p', { class: 'audit-when' }, timeEl(item.at), item.policyVersion ? ` · policy ${item.policyVersion}` : ''));
}

/** @param {AuditEntry[]} items */
export function sortNewest(items) {
  return items.slice().sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
}

/** Also re-run when images arrive, so entries can name stamps instead of ids. */
export function renderAudit() {
  const items = state.auditItems;
  if (!items) return;
  const shown = items.slice(0, AUDIT_SHOWN);
  els.audit.replaceChildren(...shown.map((i) => auditItem(i, { withImage: true })));
  if (items.length === 0) els.audit.append(h('li', { class: 'audit-empty muted', text: 'No decisions recorded yet.' }));
  if (items.length > shown.length) els.audit.append(h('li', { class: 'audit-empty muted', text: `Showing the newest ${shown.length} of ${items.length} entries.` }));
}

export async function loadAudit() {
  state.auditCtl?.abort();
  const ctl = new AbortController();
  state.auditCtl = ctl;
  const cid = els.collection.value;
  state.auditItems = null;
  if (!cid) {
    els.audit.replaceChildren();
    return;
  }
  els.audit.setAttribute('aria-busy', 'true');
  try {
    /** @type {import('./types.js').ItemList<AuditEntry> | null} */
    const data = await api(`${API}/collections/${encodeURIComponent(cid)}/audit`, { signal: ctl.signal });
    state.auditItems = sortNewest(Array.isArray(data?.items) ? data.items : []);
    renderAudit();
  } catch (err) {
    if (isAbortError(err)) return;
    state.auditItems = null;
    els.audit.replaceChildren(h('li', { class: 'audit-empty error-text', text: `Audit trail could not be loaded. ${messageOf(err)}` }));
  } finally {
    if (state.auditCtl === ctl) els.audit.removeAttribute('aria-busy');
  }
}
