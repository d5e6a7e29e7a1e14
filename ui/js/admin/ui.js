// @ts-check
// The admin page's shared pieces: the status line (a polite live region),
// the change dialog (fields, then a confirmation naming what will change,
// then the request), responsive tables (stacked rows on narrow screens) and
// the view for someone who is not an admin.

import { ApiError, messageOf } from '../api.js';
import { byId, h } from '../dom.js';

let statusTimer = 0;

/**
 * Writes to the role=status region; clearing first makes a repeated message announce again.
 * @param {string | string[]} message a summary, then detail lines
 * @param {'info' | 'ok' | 'error'} [kind]
 */
export function say(message, kind = 'info') {
  const status = byId('status', HTMLElement);
  clearTimeout(statusTimer);
  status.textContent = '';
  status.dataset.kind = kind;
  const lines = Array.isArray(message) ? message : [message];
  statusTimer = window.setTimeout(() => {
    status.replaceChildren(...lines.map((line, i) => h('p', { class: i === 0 ? 'status-main' : 'status-detail', text: line })));
  }, 30);
}

/**
 * Whether an error is the API saying "not for you" (the caller is not an admin).
 * @param {unknown} err
 */
export function isForbidden(err) {
  return err instanceof ApiError && err.status === 403;
}

/**
 * Shows the page as it is for someone the admin API refuses: one clear
 * message, no tables.
 * @param {string} [detail] what the server said, if it said something
 */
export function showNotAdmin(detail) {
  for (const id of ['admin-intro', 'admin-toc', 'collections', 'releases', 'delegations', 'bindings', 'stopped']) byId(id, HTMLElement).hidden = true;
  const box = byId('not-admin', HTMLElement);
  if (detail) byId('not-admin-text', HTMLElement).textContent = `The bridge refused the administration requests for your account (${detail}). Nothing here can be shown or changed with your account.`;
  box.hidden = false;
}

/**
 * A section's body while loading, after loading, or when loading failed.
 * @param {string} id the body element
 * @param {...(Node | string | null | false | undefined)} children
 */
export function fill(id, ...children) {
  const body = byId(id, HTMLElement);
  body.replaceChildren(...children.filter((c) => c !== null && c !== false && c !== undefined).map((c) => /** @type {Node | string} */ (c)));
  body.removeAttribute('aria-busy');
}

/**
 * A load that failed: said in the section and in the status line (a 403 switches the page to the non-admin view).
 * @param {string} id the section body
 * @param {string} what
 * @param {unknown} err
 */
export function loadFailed(id, what, err) {
  if (isForbidden(err)) {
    showNotAdmin(messageOf(err));
    return;
  }
  fill(id, h('p', { class: 'error-text', text: `Could not load ${what}: ${messageOf(err)}` }));
  say([`Could not load ${what}`, messageOf(err)], 'error');
}

/**
 * A table that becomes stacked rows under 700 px (each cell carries its
 * column's name for the narrow layout), or with `scroll`, one that stays a
 * table and scrolls sideways inside a labelled, focusable region.
 * @param {string} caption read by screen readers, shown as the table's title
 * @param {string[]} columns
 * @param {Array<Array<Node | string | null>>} rows
 * @param {{ className?: string, rowIds?: string[], scroll?: boolean }} [o]
 */
export function table(caption, columns, rows, o = {}) {
  const t = h('table', { class: `admin-table ${o.scroll ? '' : 'stacked'} ${o.className ?? ''}`.replace(/\s+/g, ' ').trim() },
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', null, rows.map((cells, r) =>
      h('tr', o.rowIds ? { dataset: { id: o.rowIds[r] } } : null,
        cells.map((cell, i) => h('td', { dataset: { label: columns[i] } }, cell ?? ''))))));
  return o.scroll ? h('div', { class: 'table-scroll', role: 'region', 'aria-label': `${caption} (scrolls sideways)`, tabindex: '0' }, t) : t;
}

/**
 * A labelled control with its hint and an error slot, for the change dialog and the add forms.
 * @typedef {object} FieldSpec
 * @property {string} name
 * @property {string} label
 * @property {'text' | 'number' | 'textarea' | 'checkbox' | 'radio'} type
 * @property {string} [value]
 * @property {boolean} [checked] checkbox
 * @property {{ value: string, label: string }[]} [options] radio
 * @property {string} [hint]
 * @property {boolean} [required]
 * @property {string} [pattern] a regular expression the value must match
 * @property {string} [patternMessage]
 * @property {string} [min]
 * @property {string} [max]
 * @property {string} [list] the id of a datalist
 * @property {string} [autocomplete]
 */

let fieldSeq = 0;

/**
 * @param {FieldSpec} f
 * @returns {{ el: HTMLElement, read: () => string, check: () => string | null, focus: () => void }}
 */
export function field(f) {
  const id = `f-${f.name}-${++fieldSeq}`;
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  const hint = f.hint ? h('p', { class: 'hint', id: hintId, text: f.hint }) : null;
  const describedBy = [f.hint ? hintId : null, errId].filter(Boolean).join(' ');
  if (f.type === 'radio') {
    const inputs = (f.options ?? []).map((o, i) => h('input', { type: 'radio', name: id, id: `${id}-${i}`, value: o.value, checked: o.value === f.value }));
    const el = h('fieldset', { class: 'field field-radios', 'aria-describedby': describedBy },
      h('legend', { text: f.label }),
      inputs.map((input, i) => h('div', { class: 'radio' }, input, h('label', { for: input.id, text: f.options?.[i].label ?? '' }))),
      hint, err);
    const read = () => inputs.find((i) => i.checked)?.value ?? '';
    return { el, read, check: () => (f.required && !read() ? `Choose ${f.label.toLowerCase()}` : null), focus: () => (inputs.find((i) => i.checked) ?? inputs[0])?.focus() };
  }
  if (f.type === 'checkbox') {
    const input = h('input', { type: 'checkbox', id, name: f.name, checked: !!f.checked, 'aria-describedby': describedBy });
    const el = h('div', { class: 'field field-check' }, h('div', { class: 'radio' }, input, h('label', { for: id, text: f.label })), hint, err);
    return { el, read: () => (input.checked ? 'true' : 'false'), check: () => null, focus: () => input.focus() };
  }
  const input = f.type === 'textarea'
    ? h('textarea', { id, name: f.name, rows: 3, required: f.required, 'aria-describedby': describedBy })
    : h('input', { id, name: f.name, type: f.type, required: f.required, min: f.min, max: f.max, list: f.list, autocomplete: f.autocomplete ?? 'off', spellcheck: 'false', 'aria-describedby': describedBy, inputmode: f.type === 'number' ? 'numeric' : null });
  input.value = f.value ?? '';
  const el = h('div', { class: 'field' },
    h('label', { for: id }, f.label, f.required ? h('span', { class: 'required', text: ' (required)' }) : null),
    input, hint, err);
  const check = () => {
    const v = input.value.trim();
    /** @type {string | null} */
    let problem = null;
    if (f.required && !v) problem = `${f.label} is required`;
    else if (v && f.pattern && !new RegExp(`^(?:${f.pattern})$`).test(v)) problem = f.patternMessage ?? `${f.label} is not in the expected form`;
    else if (v && f.type === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || (f.min !== undefined && n < Number(f.min)) || (f.max !== undefined && n > Number(f.max))) problem = `${f.label} must be a number from ${f.min ?? '…'} to ${f.max ?? '…'}`;
    }
    err.textContent = problem ?? '';
    err.hidden = !problem;
    if (problem) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    return problem;
  };
  return { el, read: () => input.value.trim(), check, focus: () => input.focus() };
}

/**
 * Checks every field; focuses the first wrong one.
 * @param {ReturnType<typeof field>[]} fields
 */
export function checkAll(fields) {
  const bad = fields.filter((f) => f.check() !== null);
  bad[0]?.focus();
  return bad.length === 0;
}

/**
 * A change, step by step in a modal dialog: the fields (if any), then a
 * confirmation that names what will change, then the request. The result
 * goes to the status line; an error stays in the dialog (and is announced).
 * @param {object} o
 * @param {string} o.title
 * @param {string} [o.intro]
 * @param {FieldSpec[]} [o.fields]
 * @param {(v: Record<string, string>) => string | null} [o.validate] a problem with the values as a whole
 * @param {(v: Record<string, string>) => string} o.confirm what will change, in a sentence
 * @param {string} o.confirmLabel the confirming button
 * @param {boolean} [o.danger] the confirming button warns
 * @param {(v: Record<string, string>) => Promise<string>} o.run does it; answers the result for the status line
 */
export function changeDialog(o) {
  const dialog = h('dialog', { class: 'dialog dialog-small admin-dialog', 'aria-labelledby': 'admin-dialog-title' });
  // Where focus goes back to: the button that opened the dialog, or (when a reload replaced it) its section's heading.
  const opener = document.activeElement;
  const section = opener instanceof HTMLElement ? opener.closest('section') : null;
  const fields = (o.fields ?? []).map((f) => ({ spec: f, ...field(f) }));
  const values = () => Object.fromEntries(fields.map((f) => [f.spec.name, f.read()]));
  const close = () => dialog.close();
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    else section?.querySelector('h2')?.focus();
  });
  const problem = h('p', { class: 'field-error', role: 'alert' });

  const confirmStep = () => {
    const v = values();
    const summary = h('p', { class: 'confirm-summary', tabindex: '-1', text: o.confirm(v) });
    const error = h('div', { role: 'alert', class: 'dialog-error' });
    const yes = h('button', { type: 'submit', class: `btn ${o.danger ? 'btn-reject' : 'btn-approve'}`, text: o.confirmLabel });
    const back = fields.length ? h('button', { type: 'button', class: 'btn', text: 'Back', onclick: () => { formStep(); } }) : null;
    const form = h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-body' }, h('p', { class: 'confirm-title', text: 'Please confirm this change' }), summary, error),
      h('div', { class: 'dialog-foot' }, h('button', { type: 'button', class: 'btn', text: 'Cancel', onclick: close }), back, yes));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      yes.disabled = true;
      yes.textContent = 'Saving…';
      try {
        const result = await o.run(v);
        close();
        say(result, 'ok');
      } catch (err) {
        yes.disabled = false;
        yes.textContent = o.confirmLabel;
        error.replaceChildren(h('p', { class: 'status-main', text: 'Not saved' }), h('p', { text: messageOf(err) }));
        say([`${o.title}: not saved`, messageOf(err)], 'error');
      }
    });
    body.replaceChildren(form);
    summary.focus();
  };

  const formStep = () => {
    const form = h('form', { novalidate: true },
      h('div', { class: 'dialog-body' }, o.intro ? h('p', { class: 'muted', text: o.intro }) : null, fields.map((f) => f.el), problem),
      h('div', { class: 'dialog-foot' }, h('button', { type: 'button', class: 'btn', text: 'Cancel', onclick: close }), h('button', { type: 'submit', class: 'btn btn-approve', text: 'Continue' })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!checkAll(fields)) return;
      const whole = o.validate?.(values()) ?? null;
      problem.textContent = whole ?? '';
      if (whole) return;
      confirmStep();
    });
    body.replaceChildren(form);
    fields[0]?.focus();
  };

  const body = h('div');
  dialog.append(h('div', { class: 'dialog-head' }, h('h2', { class: 'dialog-title', id: 'admin-dialog-title', text: o.title })), body);
  byId('main', HTMLElement).append(dialog);
  dialog.showModal();
  if (fields.length) formStep();
  else confirmStep();
  return dialog;
}

/**
 * "Show more" under a paged list.
 * @param {string} label
 * @param {() => Promise<void>} more
 */
export function moreButton(label, more) {
  const b = h('button', { type: 'button', class: 'btn', text: label });
  b.addEventListener('click', async () => {
    b.disabled = true;
    b.textContent = 'Loading…';
    await more();
  });
  return h('div', { class: 'more' }, b);
}
