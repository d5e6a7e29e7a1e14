// @ts-check
// The Zooniverse projects each PI may upload to: the PIs' requests waiting
// for an answer (GET /project-binding-requests; Approve… answers one with
// POST /project-bindings, Decline… with DELETE /project-binding-requests),
// the projects approved (GET /project-bindings; Revoke… is DELETE), and a
// form to approve a project nobody asked for. Each change is confirmed
// first, with a reason, and audited by the server.

import { API, api } from '../api.js';
import { h } from '../dom.js';
import { timeEl } from '../format.js';
import { addForm, USERNAME } from './grants.js';
import { changeDialog, fill, loadFailed, table } from './ui.js';

/** @typedef {import('./types.js').ProjectBinding} ProjectBinding */
/** @typedef {import('./types.js').ProjectBindingRequest} ProjectBindingRequest */

const BODY = 'bindings-body';
const REASON = { name: 'reason', label: 'Reason', type: /** @type {const} */ ('text'), required: true, hint: 'Kept in the audit log.' };

/** @param {string} text @param {'waiting' | 'approved'} kind */
const state = (text, kind) => h('span', { class: `badge binding-${kind}`, text });

/** @param {ProjectBindingRequest} q */
function approveRequest(q) {
  changeDialog({
    title: `Approve project ${q.projectId} for ${q.username}`,
    intro: `${q.username} asked: “${q.reason}”`,
    fields: [REASON],
    confirm: (v) => `Approve Zooniverse project ${q.projectId} for ${q.username}, as they asked: they may then set it on their collections and upload to it. Reason: "${v.reason}".`,
    confirmLabel: 'Approve the project',
    async run(v) {
      await api(`${API}/project-bindings`, { method: 'POST', body: { username: q.username, projectId: q.projectId, reason: v.reason } });
      await loadBindings();
      return `Project ${q.projectId} approved for ${q.username}.`;
    },
  });
}

/** @param {ProjectBindingRequest} q */
function declineRequest(q) {
  changeDialog({
    title: `Decline project ${q.projectId} for ${q.username}`,
    intro: `${q.username} asked: “${q.reason}”`,
    fields: [{ ...REASON, hint: 'Kept in the audit log; say what the PI should do instead.' }],
    confirm: (v) => `Decline ${q.username}'s request for Zooniverse project ${q.projectId}: the project stays unapproved for them and the request is removed. Reason: "${v.reason}".`,
    confirmLabel: 'Decline the request',
    danger: true,
    async run(v) {
      await api(`${API}/project-binding-requests`, { method: 'DELETE', body: { username: q.username, projectId: q.projectId, reason: v.reason } });
      await loadBindings();
      return `Request declined: project ${q.projectId} stays unapproved for ${q.username}.`;
    },
  });
}

/** @param {ProjectBinding} b */
function revoke(b) {
  changeDialog({
    title: 'Withdraw a project approval',
    confirm: () => `Withdraw Zooniverse project ${b.projectId} from ${b.username}: their collections keep the setting, but their uploads wait until the project is approved again, and it can no longer be set on a collection.`,
    confirmLabel: 'Withdraw the approval',
    danger: true,
    async run() {
      await api(`${API}/project-bindings`, { method: 'DELETE', body: { username: b.username, projectId: b.projectId } });
      await loadBindings();
      return `Project ${b.projectId} withdrawn from ${b.username}.`;
    },
  });
}

/** @param {ProjectBindingRequest[]} items */
function requestsPart(items) {
  return h('div', { class: 'bindings-part', id: 'binding-requests' },
    h('h3', { class: 'bindings-title', text: `Requests waiting for an answer (${items.length})` }),
    items.length
      ? table('Zooniverse projects PIs asked for, waiting for an answer', ['PI', 'Zooniverse project', 'State', 'Their reason', 'Asked', ''], items.map((q) => [
          q.username, q.projectId, state('Waiting for approval', 'waiting'), q.reason, timeEl(q.createdAt),
          h('div', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Approve project ${q.projectId} for ${q.username}…`, onclick: () => approveRequest(q) }, 'Approve…'),
            h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Decline project ${q.projectId} for ${q.username}…`, onclick: () => declineRequest(q) }, 'Decline…')),
        ]), { className: 'requests-table', rowIds: items.map((q) => q.id) })
      : h('p', { class: 'empty-note', text: 'No PI is waiting for a project approval.' }));
}

/** @param {ProjectBinding[]} items */
function approvedPart(items) {
  return h('div', { class: 'bindings-part', id: 'binding-approved' },
    h('h3', { class: 'bindings-title', text: `Approved projects (${items.length})` }),
    items.length
      ? table('Zooniverse projects approved per PI', ['PI', 'Zooniverse project', 'State', 'Approved by', 'Since', ''], items.map((b) => [
          b.username, b.projectId, state('Approved', 'approved'), b.approvedBy, timeEl(b.createdAt),
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Revoke project ${b.projectId} of ${b.username}`, onclick: () => revoke(b) }, 'Revoke'),
        ]), { className: 'bindings-table' })
      : h('p', { class: 'empty-note', text: 'No Zooniverse project is approved for any PI yet.' }));
}

export async function loadBindings() {
  try {
    const [asked, approved] = /** @type {[import('../types.js').ItemList<ProjectBindingRequest> | null, import('../types.js').ItemList<ProjectBinding> | null]} */ (
      await Promise.all([api(`${API}/project-binding-requests`), api(`${API}/project-bindings`)]));
    fill(BODY,
      requestsPart(asked?.items ?? []),
      approvedPart(approved?.items ?? []),
      addForm('Approve a project for a PI', [
        { name: 'username', label: 'PI (RSP username)', type: 'text', required: true, ...USERNAME },
        { name: 'projectId', label: 'Zooniverse project id', type: 'text', required: true, pattern: '\\d{1,12}', patternMessage: 'The project’s number, digits only', hint: 'The number in the project’s Zooniverse URL.' },
        REASON,
      ], 'Approve…', (v, reset) => changeDialog({
        title: 'Approve a project',
        confirm: () => `Approve Zooniverse project ${v.projectId} for ${v.username}: they may then set it on their collections and upload to it. Reason: "${v.reason}".`,
        confirmLabel: 'Approve the project',
        async run() {
          await api(`${API}/project-bindings`, { method: 'POST', body: { username: v.username, projectId: v.projectId, reason: v.reason } });
          reset();
          await loadBindings();
          return `Project ${v.projectId} approved for ${v.username}.`;
        },
      })));
  } catch (err) {
    loadFailed(BODY, 'the project bindings', err);
  }
}
