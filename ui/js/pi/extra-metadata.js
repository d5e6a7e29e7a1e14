// @ts-check
// The PI's per-object metadata table (PUT /collections/:id/extra-metadata,
// text/csv) from a file; the API's line-numbered errors shown as a list.

import { API } from '../api.js';
import { ApiError, messageOf } from '../api.js';
import { h } from '../dom.js';
import { putText } from './upload-text.js';
import { say } from './status.js';

/** @param {import('./types.js').PiCollection} c */
export function extraMetadataForm(c) {
  const id = `extra-${c.id}`;
  const errors = h('ul', { class: 'error-list', id: `${id}-errors`, hidden: true });
  const input = h('input', { type: 'file', id, name: 'table', accept: '.csv,text/csv', 'aria-describedby': `${id}-hint` });
  const summary = /** @type {{ columns?: unknown, objects?: unknown } | null} */ (c.extraMetadata && typeof c.extraMetadata === 'object' ? c.extraMetadata : null);
  const form = h('form', { class: 'pi-extra', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: id, text: 'Metadata table (CSV)' }),
      h('p', { class: 'hint', id: `${id}-hint`, text: 'First column "object" (an image id, <dataset id>:<stamp index> or a stamp index), then one column per metadata key, e.g. #priority or an ML score. Up to 8 MB; it replaces the previous table.' }),
      input,
      errors),
    summary ? h('p', { class: 'muted', text: `Current table: ${JSON.stringify(summary).slice(0, 200)}` }) : null,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-approve' }, 'Upload table')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.hidden = true;
    input.removeAttribute('aria-invalid');
    input.setAttribute('aria-describedby', `${id}-hint`);
    const file = input.files?.[0];
    if (!file) {
      errors.replaceChildren(h('li', { text: 'Choose a CSV file first.' }));
      errors.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', `${id}-hint ${id}-errors`);
      input.focus();
      return;
    }
    try {
      await putText(`${API}/collections/${encodeURIComponent(c.id)}/extra-metadata`, await file.text(), 'text/csv');
      say(`Metadata table ${file.name} saved.`, 'ok');
    } catch (err) {
      /** @type {import('./types.js').FieldProblem} */
      const p = err instanceof ApiError ? err.problem : {};
      const lines = (Array.isArray(p.issues) && p.issues.length ? p.issues.map((i) => i.message) : [p.detail ?? messageOf(err)])
        .flatMap((m) => String(m).replace(/^extra-metadata table: /, '').split(/;\s+(?=line \d+)/));
      errors.replaceChildren(...lines.map((l) => h('li', { text: l })));
      errors.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', `${id}-hint ${id}-errors`);
      input.focus();
      say(['The table was not saved', ...lines], 'error');
    }
  });
  return form;
}
