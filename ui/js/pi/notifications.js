// @ts-check
// Notifications: the events of all the user's collections (GET /me/events,
// newest first, a page at a time), each told in words.

import { API, api, messageOf } from '../api.js';
import { byId, h } from '../dom.js';
import { plural, timeEl } from '../format.js';
import { say } from './status.js';

const PAGE = 20;
/** @type {string | null} */
let next = null;

/** @param {unknown} v */
const num = (v) => (typeof v === 'number' ? v : Array.isArray(v) ? v.length : 0);

/** @param {number} bytes */
function size(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/**
 * What happened, as a sentence.
 * @param {import('./types.js').PiEvent} e
 */
export function eventText(e) {
  const d = e.data ?? {};
  const seq = d.seq !== undefined ? ` ${d.seq}` : '';
  const reason = typeof d.reason === 'string' && d.reason ? ` (${d.reason})` : '';
  switch (e.kind) {
    case 'files_retrieved':
      return `Your files were retrieved and can be safely removed from your collection: all ${plural(num(d.datasets), 'dataset')} of delivery${seq} (${size(num(d.bytes))}) are in the bridge's quarantine.`;
    case 'batch_quarantined':
      return `Delivery${seq} is ready for review: ${plural(num(d.images), 'image')} from ${plural(num(d.datasets), 'dataset')}; ${num(d.pending_review)} waiting for a reviewer, ${num(d.auto_approved)} approved by the policy, ${num(d.rejected)} rejected, ${num(d.held)} held${num(d.failed_datasets) ? `; ${plural(num(d.failed_datasets), 'dataset')} failed` : ''}.`;
    case 'artifact_failed':
      return `A dataset could not be processed: ${String(d.datasetType ?? 'dataset')} ${d.dataId ? Object.entries(/** @type {Record<string, unknown>} */ (d.dataId)).map(([k, v]) => `${k}=${v}`).join(' ') : ''}: ${String(d.error ?? d.reason ?? 'failed')}.`;
    case 'group_failed':
      return `A set of bands could not be converted: ${plural(num(d.datasets), 'dataset')} (see What stopped).`;
    case 'images_approved':
      return `${plural(num(d.imageIds), 'image')} approved by ${String(d.by ?? 'a reviewer')}.`;
    case 'images_rejected':
      return `${plural(num(d.imageIds), 'image')} rejected by ${String(d.by ?? 'a reviewer')}${reason}.`;
    case 'images_retracted':
      return `${plural(num(d.imageIds), 'image')} taken down by ${String(d.by ?? 'someone')}${reason}.`;
    case 'batch_published':
      return `Upload batch${seq} published: ${plural(num(d.total), 'subject')} ready for Zooniverse.`;
    case 'batch_uploaded':
      return `Upload batch${seq} is on Zooniverse.`;
    case 'batch_failed':
      return `Upload batch${seq} failed: ${String(d.error ?? 'see What stopped')}.`;
    case 'batch_blocked':
      return `Upload batch${seq} is blocked: ${String(d.message ?? 'Zooniverse upload limit')}.`;
    case 'batch_waiting':
      return `Upload batch${seq} is waiting: ${String(d.message ?? '')}.`;
    case 'batch_retracted':
      return `Upload batch${seq} was taken down.`;
    case 'verdicts_reopened':
      return `${plural(num(d.images), 'image')} will be judged again${reason}.`;
    case 'subject_retired':
      return `${plural(num(d.subjects), 'subject')} retired on Zooniverse by your results rules (cannot be undone through Zooniverse's API).`;
    case 'subject_flagged':
      return `Subject ${String(d.subjectId ?? '')} flagged by results rule ${String(d.rule ?? '')}${typeof d.message === 'string' && d.message ? `: ${d.message}` : ''}.`;
    case 'images_back_to_review':
      return `${plural(num(d.imageIds), 'image')} went back to review${reason}.`;
    default:
      return `${e.kind.replace(/_/g, ' ')}.`;
  }
}

/** @param {import('./types.js').PiEvent} e */
function item(e) {
  return h('li', { class: `pi-event event-${e.kind}` },
    h('p', { class: 'pi-event-text', text: eventText(e) }),
    h('p', { class: 'muted pi-event-meta' }, e.collectionName, ' · ', timeEl(e.at),
      e.deliveryError ? h('span', { class: 'error-text', text: ` · webhook: ${e.deliveryError}` }) : e.deliveredAt ? ' · sent to your webhook' : null));
}

/** @param {boolean} more */
export async function loadNotifications(more = false) {
  const list = byId('notifications-list', HTMLOListElement);
  try {
    /** @type {{ items: import('./types.js').PiEvent[], next: string | null } | null} */
    const page = await api(`${API}/me/events?limit=${PAGE}${more && next ? `&before=${encodeURIComponent(next)}` : ''}`);
    const items = (page?.items ?? []).map(item);
    if (more) list.append(...items);
    else list.replaceChildren(...items);
    next = page?.next ?? null;
    byId('notifications-more', HTMLButtonElement).hidden = !next;
    byId('notifications-empty', HTMLElement).hidden = list.children.length > 0;
  } catch (err) {
    say(['Notifications could not be read', messageOf(err)], 'error');
  }
}

export function initNotifications() {
  byId('notifications-more', HTMLButtonElement).addEventListener('click', () => void loadNotifications(true));
  byId('notifications-refresh', HTMLButtonElement).addEventListener('click', () => void loadNotifications(false).then(() => say('Notifications read again.')));
  return loadNotifications(false);
}
