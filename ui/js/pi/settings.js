// @ts-check
// Upload settings of a collection (PATCH /collections/:id, the fields of
// uploadSettingsSchema): the current values, only what changed is sent,
// each message next to its field. A project no admin approved is a 403
// whose message says how to get it approved: shown as it comes.

import { API, api } from '../api.js';
import { h } from '../dom.js';
import { checkboxField, clearErrors, formValues, selectField, showErrors, textField } from './fields.js';
import { say } from './status.js';

/**
 * The values as the API takes them.
 * @param {HTMLFormElement} form
 */
function values(form) {
  const v = formValues(form);
  return {
    zooniverseProjectId: v.zooniverseProjectId ? String(v.zooniverseProjectId).trim() : null,
    uploadMode: v.uploadMode,
    maxBatchSize: v.maxBatchSize === '' ? NaN : Number(v.maxBatchSize),
    subjectSetPer: v.subjectSetPer,
    subjectSetNaming: v.subjectSetNaming ? String(v.subjectSetNaming) : null,
    subjectFrames: v.subjectFrames === true,
    oneIncompleteSet: v.oneIncompleteSet === true,
  };
}

/**
 * @param {import('./types.js').PiCollection} c
 * @param {(c: import('./types.js').PiCollection) => void} onSaved
 */
export function settingsForm(c, onSaved) {
  const form = h('form', { class: 'pi-settings', novalidate: true, 'aria-labelledby': 'settings-title' },
    h('div', { class: 'form-grid' },
      textField({ field: 'zooniverseProjectId', label: 'Zooniverse project id', hint: 'A project an EPO admin approved for you; empty: nothing is uploaded, and the export (under Pipeline) is the way to Zooniverse.', value: c.zooniverseProjectId ?? '', attrs: { inputmode: 'numeric', autocomplete: 'off' } }),
      selectField({ field: 'uploadMode', label: 'Upload mode', hint: 'Import: Zooniverse fetches the manifest. API: subjects are created one by one.', value: c.uploadMode, options: [['import', 'Import'], ['api', 'API']] }),
      textField({ field: 'maxBatchSize', label: 'Subjects per upload batch', type: 'number', value: String(c.maxBatchSize), hint: '1 to 10,000.', attrs: { min: '1', max: '10000' } }),
      selectField({ field: 'subjectSetPer', label: 'One subject set per', hint: 'Each upload batch gets its own set, or one set holds them all.', value: c.subjectSetPer, options: [['batch', 'upload batch'], ['collection', 'collection']] }),
      textField({ field: 'subjectSetNaming', label: 'Subject set names', hint: 'A template with {collection} and {seq}; empty for the default.', value: c.subjectSetNaming ?? '' })),
    checkboxField({ field: 'subjectFrames', label: 'Flipbook subjects: the colour image, then one grey frame per band', checked: c.subjectFrames }),
    checkboxField({ field: 'oneIncompleteSet', label: 'Paced: start a new subject set only once volunteers finish the previous one', checked: c.oneIncompleteSet }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-approve' }, 'Save settings')));
  const initial = values(form);
  let saved = initial;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const now = values(form);
    /** @type {Record<string, unknown>} */
    const changed = {};
    for (const [k, v] of Object.entries(now)) if (!Object.is(v, saved[/** @type {keyof typeof saved} */ (k)])) changed[k] = Number.isNaN(v) ? null : v;
    if (!Object.keys(changed).length) {
      clearErrors(form);
      say('Nothing to save: no setting changed.');
      return;
    }
    try {
      /** @type {import('./types.js').PiCollection | null} */
      const r = await api(`${API}/collections/${encodeURIComponent(c.id)}`, { method: 'PATCH', body: changed });
      clearErrors(form);
      saved = now;
      say(`Settings saved: ${Object.keys(changed).join(', ')}.`, 'ok');
      if (r) onSaved(r);
    } catch (err) {
      const rest = showErrors(form, err);
      say(['The settings were not saved', ...rest], 'error');
    }
  });
  return form;
}
