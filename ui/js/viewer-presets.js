// @ts-check
// The viewer's colour presets: the image re-rendered in another preset by
// the server (GET /images/{id}/render?preset=...), to judge whether a
// feature is real or a product of the stretch. The list comes from the
// API's own schema, so a new preset shows up here by itself.

import { API, api } from './api.js';
import { h } from './dom.js';
import { els } from './elements.js';

/** @type {Promise<string[]> | null} */
let presets = null;

/** @returns {Promise<string[]>} */
function presetList() {
  presets ??= api(`${API}/openapi.json`)
    .then((/** @type {any} */ doc) => {
      const list = doc?.components?.schemas?.Registration?.properties?.colour?.properties?.preset?.enum;
      return Array.isArray(list) ? list.map(String) : [];
    })
    .catch(() => []);
  return presets;
}

/**
 * Buttons for every preset, the image's own pressed; others load its rendering.
 * @param {import('./types.js').ReviewImage} img
 * @param {string} alt
 * @param {() => void} beforeShow resets the frame buttons and the side-by-side view
 */
export async function renderPresetButtons(img, alt, beforeShow) {
  const list = await presetList();
  if (!list.length) {
    els.viewerPresets.hidden = true;
    return;
  }
  const own = img.preset;
  const buttons = list.map((p) => h('button', { type: 'button', class: 'btn btn-small', 'aria-pressed': String(p === own), dataset: { preset: p }, text: p === own ? `${p} (stored)` : p }));
  buttons.forEach((b) => b.addEventListener('click', () => {
    beforeShow();
    const p = b.dataset.preset ?? own;
    els.viewerImg.hidden = false;
    els.viewerImgError.hidden = true;
    els.viewerImg.src = p === own ? String(img.previewUrl) : `${API}/images/${encodeURIComponent(img.id)}/render?preset=${encodeURIComponent(p)}`;
    els.viewerImg.alt = `${alt} (${p})`;
    for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
  }));
  const hadFocus = els.viewerPresets.contains(document.activeElement);
  els.viewerPresets.replaceChildren(...buttons);
  // Stepping to the next image keeps the keyboard where it was.
  if (hadFocus) buttons.find((b) => b.getAttribute('aria-pressed') === 'true')?.focus();
  els.viewerPresets.hidden = false;
}
