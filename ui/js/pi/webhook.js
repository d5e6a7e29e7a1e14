// @ts-check
// A collection's webhook: set it (the secret is shown once, with a copy
// button), remove it, and send a signed test event to see what the receiver
// answers.

import { API, api, messageOf } from '../api.js';
import { h } from '../dom.js';
import { clearErrors, showErrors, textField } from './fields.js';
import { confirmAction } from './confirm.js';
import { say } from './status.js';

/**
 * @param {import('./types.js').PiCollection} c
 * @param {boolean} hasWebhook the collection's events show one is set (the API does not send the URL back)
 */
export function webhookPanel(c, hasWebhook) {
  const base = `${API}/collections/${encodeURIComponent(c.id)}/webhook`;
  const result = h('div', { class: 'webhook-result' });
  const testBtn = h('button', { type: 'button', class: 'btn', disabled: !hasWebhook }, 'Send test event');
  const removeBtn = h('button', { type: 'button', class: 'btn btn-quiet', disabled: !hasWebhook }, 'Remove webhook');
  const form = h('form', { class: 'pi-webhook', novalidate: true },
    textField({ field: 'url', label: 'Webhook URL', hint: 'An https address the bridge POSTs each event to, signed as Standard Webhooks. Setting it again makes a new secret.', type: 'url', attrs: { autocomplete: 'off', spellcheck: 'false' } }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-approve' }, 'Set webhook'), testBtn, removeBtn),
    result);

  /** @param {boolean} on */
  const enable = (on) => {
    testBtn.disabled = !on;
    removeBtn.disabled = !on;
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const url = /** @type {HTMLInputElement} */ (form.elements.namedItem('url')).value.trim();
    try {
      /** @type {{ url: string, secret: string } | null} */
      const r = await api(base, { method: 'PUT', body: { url } });
      clearErrors(form);
      if (!r) return;
      const secret = h('code', { class: 'secret', id: `secret-${c.id}`, text: r.secret });
      const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy secret');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(r.secret);
          say('The secret is on the clipboard.', 'ok');
        } catch {
          getSelection()?.selectAllChildren(secret);
          say('Copying was not allowed here: the secret is selected, copy it with your keyboard.', 'info');
        }
      });
      result.replaceChildren(h('div', { class: 'note' },
        h('p', null, 'Webhook set to ', h('code', { text: r.url }), '. Its signing secret is shown this once: keep it with your receiver.'),
        h('p', { class: 'secret-row' }, secret, ' ', copy)));
      enable(true);
      say('Webhook set. Copy the secret now: it is not shown again.', 'ok');
      copy.focus();
    } catch (err) {
      const rest = showErrors(form, err);
      say(['The webhook was not set', ...rest], 'error');
    }
  });

  testBtn.addEventListener('click', async () => {
    testBtn.disabled = true;
    try {
      /** @type {{ delivered: boolean, status?: number | null, error?: string } | null} */
      const r = await api(`${base}/test`, { method: 'POST' });
      const text = r?.delivered ? `Test event delivered: the receiver answered HTTP ${r.status ?? '2xx'}.` : `Test event not delivered: ${r?.error ?? 'no answer'}.`;
      result.replaceChildren(h('p', { class: r?.delivered ? 'ok-text' : 'error-text', id: 'webhook-test-result', text }));
      say(text, r?.delivered ? 'ok' : 'error');
    } catch (err) {
      say(['The test event was not sent', messageOf(err)], 'error');
    } finally {
      testBtn.disabled = false;
    }
  });

  removeBtn.addEventListener('click', async () => {
    const ok = await confirmAction({ title: 'Remove the webhook?', text: `Events of ${c.collection} will no longer be sent anywhere; they stay listed under Notifications.`, ok: 'Remove webhook' });
    if (!ok.ok) return;
    try {
      await api(base, { method: 'DELETE' });
      enable(false);
      result.replaceChildren();
      say('Webhook removed.', 'ok');
    } catch (err) {
      say(['The webhook was not removed', messageOf(err)], 'error');
    }
  });
  return form;
}
