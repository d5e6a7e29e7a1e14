// @ts-check
// The page's one confirmation dialog (<dialog id="confirm-dialog">): names
// what will happen; optionally asks for a reason, which must be given.

import { byId, h } from '../dom.js';

/**
 * @param {{ title: string, text: string, ok: string, reasonLabel?: string }} o
 * @returns {Promise<{ ok: boolean, reason: string }>}
 */
export function confirmAction(o) {
  const dialog = byId('confirm-dialog', HTMLDialogElement);
  byId('confirm-title', HTMLElement).textContent = o.title;
  byId('confirm-text', HTMLElement).textContent = o.text;
  const okBtn = byId('confirm-ok', HTMLButtonElement);
  okBtn.textContent = o.ok;
  const extra = byId('confirm-extra', HTMLElement);
  /** @type {HTMLTextAreaElement | null} */
  let reason = null;
  if (o.reasonLabel) {
    reason = h('textarea', { id: 'confirm-reason', rows: '3', 'aria-required': 'true', 'aria-describedby': 'confirm-reason-error' });
    const err = h('p', { class: 'field-error', id: 'confirm-reason-error', hidden: true, text: 'Say why, so the audit log records it.' });
    extra.replaceChildren(h('div', { class: 'field' }, h('label', { for: 'confirm-reason', text: o.reasonLabel }), reason, err));
    const box = reason;
    okBtn.onclick = (e) => {
      if (box.value.trim()) return;
      e.preventDefault();
      err.hidden = false;
      box.setAttribute('aria-invalid', 'true');
      box.focus();
    };
  } else {
    extra.replaceChildren();
    okBtn.onclick = null;
  }
  const opener = document.activeElement;
  dialog.returnValue = '';
  dialog.showModal();
  (reason ?? byId('confirm-cancel', HTMLButtonElement)).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve({ ok: dialog.returnValue === 'ok', reason: reason?.value.trim() ?? '' });
    }, { once: true });
  });
}
