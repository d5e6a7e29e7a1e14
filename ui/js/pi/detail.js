// @ts-check
// One collection: its summary, live pipeline, settings, webhook,
// metadata table and volunteers' results. Sections a reviewer (who may see but not change it)
// would not use are left out for them; the API decides either way.

import { API, api, messageOf } from '../api.js';
import { byId, h } from '../dom.js';
import { timeEl } from '../format.js';
import { user } from '../session.js';
import { DEFAULT_PRESET } from './colour-presets.js';
import { extraMetadataForm } from './extra-metadata.js';
import { refresh, stopPipeline } from './pipeline.js';
import { resultsPanel } from './results.js';
import { settingsForm } from './settings.js';
import { say } from './status.js';
import { webhookPanel } from './webhook.js';

/**
 * A sub-section with its h3, collapsible.
 * @param {string} id
 * @param {string} title
 * @param {Node} body
 * @param {boolean} [open]
 */
function part(id, title, body, open = false) {
  return h('details', { class: 'pi-part', id: `part-${id}`, open },
    h('summary', null, h('h3', { class: 'pi-h3', id: `${id}-title`, text: title })),
    h('div', { class: 'pi-part-body' }, body));
}

/**
 * @param {string} id
 * @param {() => void} onChanged the list should be read again
 */
export async function showCollection(id, onChanged) {
  const section = byId('detail', HTMLElement);
  const body = byId('detail-body', HTMLElement);
  stopPipeline();
  /** @type {import('./types.js').PiCollection | null} */
  let c;
  try {
    c = await api(`${API}/collections/${encodeURIComponent(id)}`);
  } catch (err) {
    say(['The collection could not be read', messageOf(err)], 'error');
    return;
  }
  if (!c) return;
  const col = c;
  const mayChange = col.owner === user.username || user.roles.includes('admin');
  const pipeline = h('div', { id: 'pipeline', class: 'pipeline', 'aria-live': 'off', dataset: { mayChange: String(mayChange) } });
  body.replaceChildren(...[
    h('div', { class: 'detail-head' },
      h('h2', { class: 'pi-h2', id: 'detail-title', tabindex: '-1', text: col.collection }),
      h('span', { class: 'badges' }, h('span', { class: `badge collection-${col.status}`, text: col.status }), h('span', { class: 'badge', text: `release ${col.dataRelease ?? 'unknown'} (${col.releaseSource})` }))),
    h('dl', { class: 'meta detail-meta' },
      h('div', { class: 'meta-row' }, h('dt', { text: 'Repository' }), h('dd', { text: col.repository })),
      h('div', { class: 'meta-row' }, h('dt', { text: 'Reads' }), h('dd', { text: `${col.datasetType} from ${col.sourceKind === 'prefix' ? 'a retrieve-artifacts directory' : 'the Butler'}` })),
      h('div', { class: 'meta-row' }, h('dt', { text: 'Colours' }), h('dd', { text: `${col.colour?.preset ?? `${DEFAULT_PRESET} (the default)`}; bands ${(col.rgb ?? []).join(', ')} as red, green, blue` })),
      h('div', { class: 'meta-row' }, h('dt', { text: 'Panel approval' }), h('dd', { text: col.panelApproval })),
      h('div', { class: 'meta-row' }, h('dt', { text: 'Registered' }), h('dd', null, timeEl(col.createdAt)))),
    part('pipeline', 'Pipeline', pipeline, true),
    mayChange ? part('settings', 'Upload settings', settingsForm(col, () => onChanged())) : null,
    mayChange ? part('webhook', 'Webhook', webhookPanel(col, true)) : null,
    mayChange ? part('extra', 'Extra metadata', extraMetadataForm(col)) : null,
    // Results carry private positions: the owner's and admins' (the API refuses reviewers either way).
    mayChange ? part('results', 'Results', resultsPanel(col)) : null,
  ].filter((x) => x !== null));
  section.hidden = false;
  byId('detail-empty', HTMLElement).hidden = true;
  byId('detail-title', HTMLElement).focus();
  await refresh(col.id);
}

export function hideCollection() {
  stopPipeline();
  byId('detail', HTMLElement).hidden = true;
  byId('detail-empty', HTMLElement).hidden = false;
}
