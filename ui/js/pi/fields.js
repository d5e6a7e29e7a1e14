// @ts-check
// Labelled form fields with a hint and a place for the API's message, and
// the mapping of a problem+json answer onto them: each message next to its
// field (aria-describedby, aria-invalid), the first invalid field focused.

import { h } from '../dom.js';
import { ApiError, messageOf } from '../api.js';

let seq = 0;

/**
 * @typedef {object} FieldOptions
 * @property {string} field the API's name for it (the problem's `field`)
 * @property {string} label
 * @property {string} [hint]
 * @property {string} [type] input type (text by default)
 * @property {string} [value]
 * @property {boolean} [required]
 * @property {Record<string, string>} [attrs] more input attributes
 */

/**
 * A wrapper with the label, the hint and the (hidden) error for a control.
 * @param {string} field
 * @param {string} id
 * @param {string} label
 * @param {string | undefined} hint
 * @param {HTMLElement} control
 * @param {boolean} [required]
 */
function wrap(field, id, label, hint, control, required) {
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  control.setAttribute('aria-describedby', hint ? hintId : errId);
  if (hint) control.dataset.hint = hintId;
  return h('div', { class: 'field', dataset: { field } },
    h('label', { for: id }, label, required ? h('span', { class: 'required', text: ' (required)' }) : null),
    hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null,
    control,
    h('p', { class: 'field-error', id: errId, hidden: true }));
}

/** @param {FieldOptions} o */
export function textField(o) {
  const id = `f${++seq}-${o.field.replace(/\W/g, '-')}`;
  const input = h('input', { id, name: o.field, type: o.type ?? 'text', value: o.value ?? '', required: o.required ?? false, ...(o.attrs ?? {}) });
  return wrap(o.field, id, o.label, o.hint, input, o.required);
}

/**
 * @param {FieldOptions & { options: [string, string][] }} o value, label pairs
 */
export function selectField(o) {
  const id = `f${++seq}-${o.field.replace(/\W/g, '-')}`;
  const select = h('select', { id, name: o.field }, o.options.map(([v, label]) => h('option', { value: v, selected: v === o.value }, label)));
  return wrap(o.field, id, o.label, o.hint, select, o.required);
}

/**
 * A checkbox with its label after it.
 * @param {{ field: string, label: string, hint?: string, checked?: boolean }} o
 */
export function checkboxField(o) {
  const id = `f${++seq}-${o.field.replace(/\W/g, '-')}`;
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const input = h('input', { id, name: o.field, type: 'checkbox', checked: o.checked ?? false, 'aria-describedby': o.hint ? hintId : errId });
  if (o.hint) input.dataset.hint = hintId;
  return h('div', { class: 'field field-check', dataset: { field: o.field } },
    h('div', { class: 'check-row' }, input, h('label', { for: id, text: o.label })),
    o.hint ? h('p', { class: 'hint', id: hintId, text: o.hint }) : null,
    h('p', { class: 'field-error', id: errId, hidden: true }));
}

/**
 * A fieldset of checkboxes (or radios) sharing one name.
 * @param {{ field: string, legend: string, hint?: string, type: 'checkbox' | 'radio', options: { value: string, label: string | Node, checked?: boolean }[], class?: string }} o
 */
export function choiceGroup(o) {
  const id = `f${++seq}-${o.field.replace(/\W/g, '-')}`;
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  return h('fieldset', { class: `field choice-group ${o.class ?? ''}`, dataset: { field: o.field }, id, 'aria-describedby': o.hint ? hintId : errId, ...(o.hint ? { 'data-hint': hintId } : {}) },
    h('legend', { text: o.legend }),
    o.hint ? h('p', { class: 'hint', id: hintId, text: o.hint }) : null,
    h('div', { class: 'choices' }, o.options.map((opt, i) => {
      const oid = `${id}-${i}`;
      return h('div', { class: 'choice' }, h('input', { type: o.type, id: oid, name: o.field, value: opt.value, checked: opt.checked ?? false }), h('label', { for: oid }, opt.label));
    })),
    h('p', { class: 'field-error', id: errId, hidden: true }));
}

/** @param {HTMLElement} root */
export function clearErrors(root) {
  for (const e of root.querySelectorAll('.field-error')) {
    e.textContent = '';
    if (e instanceof HTMLElement) e.hidden = true;
  }
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  for (const c of root.querySelectorAll('[data-hint]')) c.setAttribute('aria-describedby', c.getAttribute('data-hint') ?? '');
}

/**
 * The wrapper for an API field path ('bands.0' -> bands, 'colour.preset').
 * @param {HTMLElement} root
 * @param {string} path
 */
function wrapperFor(root, path) {
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const el = root.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join('.'))}"]`);
    if (el instanceof HTMLElement) return el;
  }
  return null;
}

/**
 * Shows what the API refused next to the fields it names; focuses the first.
 * Returns the messages that name no field here (for the status line).
 * @param {HTMLElement} root
 * @param {unknown} err
 * @returns {string[]}
 */
export function showErrors(root, err) {
  clearErrors(root);
  if (!(err instanceof ApiError)) return [messageOf(err)];
  /** @type {import('./types.js').FieldProblem} */
  const p = err.problem;
  /** @type {{ field: string, message: string }[]} */
  const issues = Array.isArray(p.issues) && p.issues.length ? p.issues : p.field ? [{ field: p.field, message: p.detail ?? p.title ?? 'invalid' }] : [];
  /** @type {string[]} */
  const rest = [];
  /** @type {HTMLElement | null} */
  let first = null;
  for (const issue of issues) {
    const w = issue.field ? wrapperFor(root, issue.field) : null;
    const errEl = w?.querySelector(':scope > .field-error');
    if (!w || !(errEl instanceof HTMLElement)) {
      rest.push(issue.field ? `${issue.field}: ${issue.message}` : issue.message);
      continue;
    }
    errEl.textContent = errEl.textContent ? `${errEl.textContent} ${issue.message}` : issue.message;
    errEl.hidden = false;
    const controls = w.matches('fieldset') ? [w, ...w.querySelectorAll('input')] : [...w.querySelectorAll('input, select, textarea')];
    for (const c of controls) {
      if (!c.matches('fieldset')) c.setAttribute('aria-invalid', 'true');
      if (c === w || !w.matches('fieldset')) {
        const hint = c.getAttribute('data-hint');
        c.setAttribute('aria-describedby', [hint, errEl.id].filter(Boolean).join(' '));
      }
    }
    const focusable = w.querySelector('input, select, textarea');
    if (!first && focusable instanceof HTMLElement) first = focusable;
  }
  if (!issues.length) rest.push(messageOf(err));
  first?.focus();
  return rest;
}

/**
 * A form's named controls as a plain object (checkbox groups as arrays).
 * @param {HTMLFormElement} form
 * @returns {Record<string, string | boolean | string[]>}
 */
export function formValues(form) {
  /** @type {Record<string, string | boolean | string[]>} */
  const out = {};
  for (const el of form.elements) {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement) || !el.name) continue;
    if (el instanceof HTMLInputElement && el.type === 'checkbox') {
      const group = form.querySelectorAll(`input[type=checkbox][name="${CSS.escape(el.name)}"]`).length > 1;
      if (group) {
        const arr = /** @type {string[]} */ (Array.isArray(out[el.name]) ? out[el.name] : []);
        if (el.checked) arr.push(el.value);
        out[el.name] = arr;
      } else out[el.name] = el.checked;
    } else if (el instanceof HTMLInputElement && el.type === 'radio') {
      if (el.checked) out[el.name] = el.value;
    } else out[el.name] = el.value;
  }
  return out;
}
