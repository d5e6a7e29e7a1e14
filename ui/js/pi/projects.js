// @ts-check
// "Zooniverse projects": the projects an EPO admin approved for the user
// (only those can be set on a collection) and the user's requests still
// waiting (GET /me/project-bindings), a form to ask for another one
// (POST /project-binding-requests) and Withdraw for a waiting request.

import { API, api, messageOf } from '../api.js';
import { byId, h } from '../dom.js';
import { timeEl } from '../format.js';
import { user } from '../session.js';
import { confirmAction } from './confirm.js';
import { clearErrors, showErrors, textField } from './fields.js';
import { say } from './status.js';

/**
 * @typedef {{ projectId: string, approvedBy: string, createdAt: string }} ApprovedProject
 * @typedef {{ projectId: string, reason: string, createdAt: string }} RequestedProject
 */

/** @param {RequestedProject} q */
async function withdraw(q) {
  const { ok } = await confirmAction({ title: `Withdraw your request for project ${q.projectId}`, text: `Withdraw your request for Zooniverse project ${q.projectId}? Admins will no longer see it; you can ask again later.`, ok: 'Withdraw the request' });
  if (!ok) return;
  try {
    await api(`${API}/project-binding-requests`, { method: 'DELETE', body: { username: user.username, projectId: q.projectId } });
    say(`Request for project ${q.projectId} withdrawn.`, 'ok');
    await loadProjects();
  } catch (err) {
    say([`The request for project ${q.projectId} was not withdrawn`, messageOf(err)], 'error');
  }
}

export async function loadProjects() {
  const list = byId('projects-list', HTMLElement);
  try {
    /** @type {{ approved: ApprovedProject[], requested: RequestedProject[] } | null} */
    const r = await api(`${API}/me/project-bindings`);
    const approved = r?.approved ?? [];
    const requested = r?.requested ?? [];
    list.replaceChildren(
      ...approved.map((b) => h('li', { class: 'pi-project' },
        h('span', { class: 'pi-project-name', text: `Project ${b.projectId}` }),
        h('span', { class: 'badge binding-approved', text: 'Approved' }),
        h('span', { class: 'muted pi-project-meta' }, `by ${b.approvedBy}, `, timeEl(b.createdAt)))),
      ...requested.map((q) => h('li', { class: 'pi-project' },
        h('span', { class: 'pi-project-name', text: `Project ${q.projectId}` }),
        h('span', { class: 'badge binding-waiting', text: 'Waiting for an admin' }),
        h('span', { class: 'muted pi-project-meta' }, 'asked ', timeEl(q.createdAt)),
        h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Withdraw the request for project ${q.projectId}`, onclick: () => void withdraw(q) }, 'Withdraw'))));
    byId('projects-empty', HTMLElement).hidden = approved.length + requested.length > 0;
  } catch (err) {
    list.replaceChildren(h('li', { class: 'error-text', text: `Your projects could not be read: ${messageOf(err)}` }));
  } finally {
    list.removeAttribute('aria-busy');
  }
}

export function initProjects() {
  const form = byId('project-request-form', HTMLFormElement);
  form.replaceChildren(
    textField({ field: 'projectId', label: 'Zooniverse project id', hint: 'The number in your project’s Zooniverse URL.', required: true, attrs: { inputmode: 'numeric', autocomplete: 'off', pattern: '\\d{1,12}' } }),
    textField({ field: 'reason', label: 'What the project is', hint: 'Its name and what your collections will bring to it; the admin sees this.', required: true, attrs: { autocomplete: 'off' } }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn' }, 'Ask an admin')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name)).value.trim();
    const projectId = value('projectId');
    try {
      await api(`${API}/project-binding-requests`, { method: 'POST', body: { projectId, reason: value('reason') } });
      clearErrors(form);
      form.reset();
      say(`Asked: an EPO admin will see your request for project ${projectId}.`, 'ok');
      await loadProjects();
    } catch (err) {
      const rest = showErrors(form, err);
      say([`Your request for project ${projectId || '…'} was not sent`, ...rest], 'error');
    }
  });
  return loadProjects();
}
