// @ts-check
// Collections, as an admin changes them: the Data Rights Panel's approval
// (POST /collections/:id/panel-approval), the data release the mapping
// derived (POST /collections/:id/release) and the publishing delay
// (PUT /collections/:id/publish-delay). Each asks for a reason and a
// confirmation; the server audits it.

import { API, api } from '../api.js';
import { h } from '../dom.js';
import { plural } from '../format.js';
import { changeDialog, fill, loadFailed, moreButton, table } from './ui.js';

/** @typedef {import('./types.js').AdminCollection} AdminCollection */
/** @typedef {import('./types.js').ReleaseEntry} ReleaseEntry */

const BODY = 'collections-body';
const PAGE = 50;

/** @type {AdminCollection[]} */
let shown = [];
/** @type {string | null} */
let nextCursor = null;
/** @type {ReleaseEntry[]} */
let mapping = [];

/** @param {ReleaseEntry[]} entries the mapping in force, to offer its releases in the override form */
export function useMapping(entries) {
  mapping = entries;
}

/** @param {number | null} s */
export function delayText(s) {
  if (s === null) return 'deployment default';
  if (s === 0) return 'none (publishes at once)';
  const d = Math.floor(s / 86_400);
  const hr = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return [d && `${d} d`, hr && `${hr} h`, m && `${m} min`, sec && `${sec} s`].filter(Boolean).join(' ');
}

/** @param {AdminCollection['releaseSource']} s */
function sourceText(s) {
  return { mapping: 'from the mapping', admin: 'admin override', unmapped: 'label not in the mapping', pi_claim: "PI's claim (before the mapping)" }[s] ?? s;
}

/** @param {AdminCollection} c */
function row(c) {
  const name = c.collection;
  /** @param {string} label @param {string} aria @param {() => void} onclick */
  const action = (label, aria, onclick) => h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `${label} for ${name}`, title: aria, onclick }, label);
  return [
    h('span', { class: 'cell-main', text: name }),
    c.owner,
    h('span', null, h('span', { class: 'cell-main', text: c.dataRelease ?? 'unknown' }), h('span', { class: 'cell-sub', text: ` ${sourceText(c.releaseSource)}` })),
    h('span', { class: `badge ${c.panelApproval === 'approved' ? 'status-approved' : 'status-unknown'}`, text: c.panelApproval === 'approved' ? 'approved' : 'not approved' }),
    delayText(c.publishDelaySeconds),
    h('span', { class: 'row-actions' },
      action('Panel approval', "Record or withdraw the Data Rights Panel's approval", () => panelDialog(c)),
      action('Release', 'Override the data release', () => releaseDialog(c)),
      action('Delay', 'Set the publishing delay', () => delayDialog(c))),
  ];
}

function render() {
  fill(BODY,
    shown.length
      ? table('Collections with their release, panel approval and publishing delay', ['Collection', 'Owner', 'Release', 'Panel approval', 'Publishing delay', 'Change'], shown.map(row), { className: 'collections-table', rowIds: shown.map((c) => c.id) })
      : h('p', { class: 'empty-note', text: 'No collections are registered yet.' }),
    h('p', { class: 'muted table-count', text: `${plural(shown.length, 'collection')} shown${nextCursor ? ', more below' : ''}.` }),
    nextCursor ? moreButton('Show more collections', () => load(true)) : null);
}

/** @param {boolean} [more] the next page, after what is shown */
export async function load(more = false) {
  try {
    /** @type {import('../types.js').Page<AdminCollection> | null} */
    const page = await api(`${API}/collections?limit=${PAGE}${more && nextCursor ? `&after=${encodeURIComponent(nextCursor)}` : ''}`);
    shown = more ? [...shown, ...(page?.items ?? [])] : (page?.items ?? []);
    nextCursor = page?.next ?? null;
    render();
  } catch (err) {
    loadFailed(BODY, 'the collections', err);
  }
}

/**
 * Reads one collection again after a change and puts it in its row.
 * @param {string} id
 */
async function refresh(id) {
  /** @type {AdminCollection | null} */
  const c = await api(`${API}/collections/${encodeURIComponent(id)}`);
  if (c) shown = shown.map((x) => (x.id === id ? c : x));
  render();
}

/** @param {number} n */
const reopenedText = (n) => (n ? `${plural(n, 'image goes', 'images go')} back to the policy.` : 'No image goes back to the policy.');

/** @param {AdminCollection} c */
function panelDialog(c) {
  const now = c.panelApproval;
  changeDialog({
    title: `Data Rights Panel approval: ${c.collection}`,
    intro: `Now: ${now === 'approved' ? 'approved' : 'not approved'}. The policy reads this as a fact; images it already judged are judged again.`,
    fields: [
      { name: 'panelApproval', label: "The panel's decision", type: 'radio', required: true, value: now === 'approved' ? 'none' : 'approved', options: [{ value: 'approved', label: 'Approved by the Data Rights Panel' }, { value: 'none', label: 'Not approved (withdraw the approval)' }] },
      { name: 'reason', label: 'Reason', type: 'textarea', required: true, hint: 'Which panel decision this records, e.g. its reference and date. Kept in the audit log.' },
    ],
    confirm: (v) =>
      v.panelApproval === now
        ? `Record again that ${c.collection} (owner ${c.owner}) is ${now === 'approved' ? 'approved' : 'not approved'} by the Data Rights Panel, with the reason "${v.reason}".`
        : `${v.panelApproval === 'approved' ? 'Record the Data Rights Panel’s approval' : 'Withdraw the Data Rights Panel’s approval'} for ${c.collection} (owner ${c.owner}): panel approval changes from ${now === 'approved' ? 'approved' : 'not approved'} to ${v.panelApproval === 'approved' ? 'approved' : 'not approved'}. Reason: "${v.reason}". Images the policy judged are judged again; reviewers' decisions stand.`,
    confirmLabel: 'Record the decision',
    async run(v) {
      /** @type {{ reopened: number } | null} */
      const r = await api(`${API}/collections/${encodeURIComponent(c.id)}/panel-approval`, { method: 'POST', body: { panelApproval: v.panelApproval, reason: v.reason } });
      await refresh(c.id);
      return `${c.collection}: panel approval ${v.panelApproval === 'approved' ? 'recorded' : 'withdrawn'}. ${reopenedText(r?.reopened ?? 0)}`;
    },
  });
}

/** @param {AdminCollection} c */
function releaseDialog(c) {
  const current = mapping.find((e) => e.release === c.dataRelease);
  const listId = 'release-names';
  const names = [...new Set(mapping.map((e) => e.release))];
  const dialog = changeDialog({
    title: `Release of ${c.collection}`,
    intro: `Now: ${c.dataRelease ?? 'unknown'} (${sourceText(c.releaseSource)}), repository ${c.repository}. An override replaces what the mapping derived, for this collection only.`,
    fields: [
      { name: 'release', label: 'Data release', type: 'text', required: true, value: c.dataRelease ?? '', list: listId, pattern: '[a-z0-9._-]{1,40}', patternMessage: 'Use a lower-case release name such as dp1, dr1 or prompt', hint: `Releases in the mapping: ${names.join(', ') || 'none'}.` },
      { name: 'proprietary', label: 'Proprietary (not public)', type: 'checkbox', checked: current?.proprietary ?? true },
      { name: 'embargoHours', label: 'Embargo after observation (hours)', type: 'number', required: true, min: '0', max: '100000', value: String(current?.embargoHours ?? 0), hint: '0 for none; prompt products are embargoed 80 hours.' },
      { name: 'reason', label: 'Reason', type: 'textarea', required: true, hint: 'Why the mapping does not fit this collection. Kept in the audit log.' },
    ],
    confirm: (v) => `Set the data release of ${c.collection} (owner ${c.owner}) from ${c.dataRelease ?? 'unknown'} to ${v.release}, ${v.proprietary === 'true' ? 'proprietary' : 'public'}, embargo ${v.embargoHours} h, overriding the mapping. Reason: "${v.reason}". Images the policy judged are judged again; reviewers' decisions stand.`,
    confirmLabel: 'Override the release',
    async run(v) {
      /** @type {{ reopened: number, dataRelease: string } | null} */
      const r = await api(`${API}/collections/${encodeURIComponent(c.id)}/release`, { method: 'POST', body: { release: v.release, proprietary: v.proprietary === 'true', embargoHours: Number(v.embargoHours), reason: v.reason } });
      await refresh(c.id);
      return `${c.collection}: release set to ${r?.dataRelease ?? v.release}. ${reopenedText(r?.reopened ?? 0)}`;
    },
  });
  dialog.append(h('datalist', { id: listId }, names.map((n) => h('option', { value: n }))));
}

/** @param {AdminCollection} c */
function delayDialog(c) {
  const own = c.publishDelaySeconds !== null;
  changeDialog({
    title: `Publishing delay of ${c.collection}`,
    intro: `Now: ${delayText(c.publishDelaySeconds)}. Images already approved keep the delay they got.`,
    fields: [
      { name: 'which', label: 'Delay', type: 'radio', required: true, value: own ? 'own' : 'default', options: [{ value: 'default', label: "The deployment's default (PUBLISH_DELAY_SECONDS)" }, { value: 'own', label: 'This collection’s own delay' }] },
      { name: 'seconds', label: 'Own delay (seconds)', type: 'number', min: '0', max: '604800', value: own ? String(c.publishDelaySeconds) : '600', hint: 'Used when “own delay” is chosen: 600 is 10 minutes, 0 publishes at once, at most 604800 (7 days).' },
      { name: 'reason', label: 'Reason', type: 'textarea', required: true, hint: 'Why this collection needs its own delay. Kept in the audit log.' },
    ],
    validate: (v) => (v.which === 'own' && (v.seconds === '' || !Number.isInteger(Number(v.seconds))) ? 'Give the own delay as a whole number of seconds.' : null),
    confirm: (v) => `Change the publishing delay of ${c.collection} (owner ${c.owner}) from ${delayText(c.publishDelaySeconds)} to ${v.which === 'own' ? delayText(Number(v.seconds)) : 'the deployment default'}. Reason: "${v.reason}".`,
    confirmLabel: 'Set the delay',
    async run(v) {
      const seconds = v.which === 'own' ? Number(v.seconds) : null;
      await api(`${API}/collections/${encodeURIComponent(c.id)}/publish-delay`, { method: 'PUT', body: { seconds, reason: v.reason } });
      await refresh(c.id);
      return `${c.collection}: publishing delay is now ${delayText(seconds)}.`;
    },
  });
}
