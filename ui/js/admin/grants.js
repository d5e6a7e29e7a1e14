// @ts-check
// What admins grant PIs: delegated collection prefixes (GET/POST
// /delegations, DELETE /delegations/:id), and the add form the project
// bindings use too (bindings.js). Each change is confirmed first and
// audited by the server.

import { API, api } from '../api.js';
import { h } from '../dom.js';
import { timeEl } from '../format.js';
import { changeDialog, checkAll, field, fill, loadFailed, table } from './ui.js';

/** @typedef {import('./types.js').Delegation} Delegation */

export const USERNAME = { pattern: '[a-z0-9][a-z0-9._-]{0,63}', patternMessage: 'An RSP username: lower-case letters, digits, . _ or -' };

/**
 * An add form under a list: its fields, then a button that opens the confirmation.
 * @param {string} title
 * @param {import('./ui.js').FieldSpec[]} specs
 * @param {string} button
 * @param {(v: Record<string, string>, reset: () => void) => void} confirm
 */
export function addForm(title, specs, button, confirm) {
  const fields = specs.map((s) => ({ spec: s, ...field(s) }));
  const titleId = `add-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  const form = h('form', { class: 'add-form', novalidate: true, 'aria-labelledby': titleId },
    h('h3', { id: titleId, class: 'add-title', text: title }),
    h('div', { class: 'add-fields' }, fields.map((f) => f.el)),
    h('div', null, h('button', { type: 'submit', class: 'btn', text: button })));
  const reset = () => form.reset();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!checkAll(fields)) return;
    confirm(Object.fromEntries(fields.map((f) => [f.spec.name, f.read()])), reset);
  });
  return form;
}

export async function loadDelegations() {
  const BODY = 'delegations-body';
  try {
    /** @type {import('../types.js').ItemList<Delegation> | null} */
    const r = await api(`${API}/delegations`);
    const items = r?.items ?? [];
    /** @param {Delegation} d */
    const revoke = (d) => changeDialog({
      title: 'Revoke a delegation',
      confirm: () => `Revoke ${d.username}'s delegation of ${d.prefix}: they can no longer register new collections under it. Collections already registered stay theirs.`,
      confirmLabel: 'Revoke the delegation',
      danger: true,
      async run() {
        await api(`${API}/delegations/${encodeURIComponent(d.id)}`, { method: 'DELETE' });
        await loadDelegations();
        return `Delegation revoked: ${d.username} no longer has ${d.prefix}.`;
      },
    });
    fill(BODY,
      items.length
        ? table('Delegated collection prefixes', ['PI', 'Prefix', 'Granted by', 'Since', ''], items.map((d) => [
            d.username, h('code', { text: d.prefix }), d.grantedBy, timeEl(d.createdAt),
            h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Revoke ${d.username}'s ${d.prefix}`, onclick: () => revoke(d) }, 'Revoke'),
          ]), { className: 'delegations-table', rowIds: items.map((d) => d.id) })
        : h('p', { class: 'empty-note', text: 'No prefixes are delegated: every PI registers under u/<own name>/ only.' }),
      addForm('Delegate a prefix', [
        { name: 'username', label: 'PI (RSP username)', type: 'text', required: true, ...USERNAME },
        { name: 'prefix', label: 'Collection prefix', type: 'text', required: true, pattern: 'u/[a-z0-9._-]+/([A-Za-z0-9._/-]*/)?', patternMessage: 'A prefix such as u/team-name/ or u/team-name/survey/, ending in /', hint: 'Such as u/team-name/; it must end in /.' },
      ], 'Delegate…', (v, reset) => changeDialog({
        title: 'Delegate a prefix',
        confirm: () => `Let ${v.username} register collections under ${v.prefix}. They will own what they register there.`,
        confirmLabel: 'Delegate the prefix',
        async run() {
          await api(`${API}/delegations`, { method: 'POST', body: { username: v.username, prefix: v.prefix } });
          reset();
          await loadDelegations();
          return `Delegated: ${v.username} may now register under ${v.prefix}.`;
        },
      })));
  } catch (err) {
    loadFailed(BODY, 'the delegations', err);
  }
}
