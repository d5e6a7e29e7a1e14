// @ts-check
// Registering a collection: a form built from the API's own registration
// schema (its bands and colour presets, from /api/v1/openapi.json), a
// preview of a few stamps in every preset (POST /collections/preview) to
// pick one from, then POST /collections. Messages come from the API.

import { API, api, messageOf } from '../api.js';
import { byId, h } from '../dom.js';
import { plural } from '../format.js';
import { user } from '../session.js';
import { DEFAULT_PRESET, FALLBACK_PRESETS } from './colour-presets.js';
import { choiceGroup, clearErrors, formValues, selectField, showErrors, textField } from './fields.js';
import { say } from './status.js';

/** @typedef {{ bands: string[], defaultBands: string[], presets: string[], defaultPreset: string }} RegistrationSchema */

/** @returns {Promise<RegistrationSchema>} */
async function registrationSchema() {
  /** @type {any} */
  const doc = await api(`${API}/openapi.json`);
  const props = doc?.components?.schemas?.Registration?.properties ?? {};
  return {
    bands: props.bands?.items?.enum ?? ['u', 'g', 'r', 'i', 'z', 'y'],
    defaultBands: props.bands?.default ?? ['g', 'r', 'i'],
    presets: props.colour?.properties?.preset?.enum ?? [...FALLBACK_PRESETS],
    defaultPreset: props.colour?.properties?.preset?.default ?? props.colour?.default?.preset ?? DEFAULT_PRESET,
  };
}

/**
 * The body both endpoints take: empty optional fields left out.
 * @param {HTMLFormElement} form
 */
function body(form) {
  const v = formValues(form);
  /** @type {Record<string, unknown>} */
  const out = { repository: v.repository, collection: v.collection, sourceKind: v.sourceKind, datasetType: v.datasetType, bands: v.bands ?? [] };
  if (v.sourceKind === 'prefix' && v.sourceRoot) out.sourceRoot = v.sourceRoot;
  if (v.rgb) out.rgb = v.rgb;
  if (v['colour.preset']) out.colour = { preset: v['colour.preset'] };
  if (v.zooniverseProjectId) out.zooniverseProjectId = v.zooniverseProjectId;
  if (v.subjectSetNaming) out.subjectSetNaming = v.subjectSetNaming;
  if (v.pollIntervalSeconds) out.pollIntervalSeconds = Number(v.pollIntervalSeconds);
  return out;
}

/**
 * The preset choice: one column per preset with its stamps, a radio each.
 * @param {string[]} presets
 * @param {import('./types.js').Preview | null} preview
 * @param {string} chosen
 */
function presetGroup(presets, preview, chosen) {
  return choiceGroup({
    field: 'colour.preset',
    legend: 'Colour preset',
    hint: preview
      ? `Stamps ${preview.stamps.map((s) => s.index + 1).join(', ')} of ${preview.stampsInSet} from ${preview.datasetType} ${Object.entries(preview.datasets[0]?.dataId ?? {}).filter(([k]) => k !== 'band').map(([k, v]) => `${k}=${v}`).join(' ')}, bands ${preview.channels.join(', ')} as red, green, blue.`
      : 'Preview the collection to see its stamps in each preset.',
    type: 'radio',
    class: preview ? 'preset-choice has-preview' : 'preset-choice',
    options: (preview?.presets ?? presets).map((p) => ({
      value: p,
      checked: p === chosen,
      label: h('span', { class: 'preset-option' },
        h('span', { class: 'preset-name', text: p }),
        preview ? h('span', { class: 'preset-stamps' }, preview.stamps.map((s) => {
          const img = s.images.find((i) => i.preset === p);
          return img?.dataUrl
            ? h('img', { src: img.dataUrl, alt: `stamp ${s.index + 1} in ${p}`, width: String(img.width), height: String(img.height) })
            : h('span', { class: 'preset-error', text: `stamp ${s.index + 1}: ${img?.error ?? 'not rendered'}` });
        })) : null),
    })),
  });
}

/** @param {(id: string) => void} onRegistered */
export async function initRegister(onRegistered) {
  const section = byId('register', HTMLElement);
  const opener = byId('register-open', HTMLButtonElement);
  const form = byId('register-form', HTMLFormElement);
  /** @type {RegistrationSchema} */
  let schema;
  try {
    schema = await registrationSchema();
  } catch (err) {
    schema = { bands: ['u', 'g', 'r', 'i', 'z', 'y'], defaultBands: ['g', 'r', 'i'], presets: [...FALLBACK_PRESETS], defaultPreset: DEFAULT_PRESET };
    say(['The registration form could not read the API description; some choices may be missing', messageOf(err)], 'error');
  }
  const prefixRoot = textField({ field: 'sourceRoot', label: 'Directory under the artifact root', hint: 'Where retrieve-artifacts wrote the files, relative to the directory the operator set up (leave empty for the root itself).' });
  prefixRoot.hidden = true;
  const presetBox = h('div', { class: 'preset-box' }, presetGroup(schema.presets, null, schema.defaultPreset));
  const previewBtn = h('button', { type: 'button', class: 'btn', id: 'preview-button' }, 'Preview colours');
  form.replaceChildren(
    h('div', { class: 'form-grid' },
      textField({ field: 'repository', label: 'Butler repository', hint: 'The repository label, e.g. dp1.', required: true, attrs: { autocomplete: 'off', spellcheck: 'false' } }),
      textField({ field: 'collection', label: 'Run collection', hint: `Your run collection, u/${user.username || '<you>'}/…`, value: `u/${user.username}/`, required: true, attrs: { autocomplete: 'off', spellcheck: 'false' } }),
      selectField({ field: 'sourceKind', label: 'Read from', options: [['butler', 'The Butler server'], ['prefix', 'A retrieve-artifacts directory']], value: 'butler' }),
      prefixRoot,
      textField({ field: 'datasetType', label: 'Dataset type', value: 'zooniverse_cutout', attrs: { spellcheck: 'false' } }),
      textField({ field: 'rgb', label: 'Bands as red, green, blue (optional)', hint: 'e.g. i,r,g; by default the reddest band is red.', attrs: { spellcheck: 'false' } }),
    ),
    choiceGroup({ field: 'bands', legend: 'Bands', type: 'checkbox', class: 'inline-choices', options: schema.bands.map((b) => ({ value: b, label: b, checked: schema.defaultBands.includes(b) })) }),
    h('div', { class: 'form-actions' }, previewBtn),
    presetBox,
    h('details', { class: 'more-options' },
      h('summary', { text: 'More options' }),
      h('div', { class: 'form-grid' },
        textField({ field: 'zooniverseProjectId', label: 'Zooniverse project id (optional)', hint: 'Only a project an EPO admin approved for you; you can also set it later.', attrs: { inputmode: 'numeric' } }),
        textField({ field: 'subjectSetNaming', label: 'Subject set names (optional)', hint: 'A template with {collection} and {seq}.' }),
        textField({ field: 'pollIntervalSeconds', label: 'Poll every (seconds, optional)', type: 'number', attrs: { min: '60', step: '60' } }))),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-approve' }, 'Register collection'),
      h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => toggle(false) }, 'Cancel')),
  );
  const kind = form.elements.namedItem('sourceKind');
  if (kind instanceof HTMLSelectElement) kind.addEventListener('change', () => { prefixRoot.hidden = kind.value !== 'prefix'; });

  /** @param {boolean} open */
  function toggle(open) {
    section.hidden = !open;
    opener.setAttribute('aria-expanded', String(open));
    if (open) {
      document.dispatchEvent(new CustomEvent('pi:register-open'));
      const first = form.querySelector('input');
      if (first instanceof HTMLElement) first.focus();
    } else opener.focus();
  }
  opener.addEventListener('click', () => toggle(section.hidden));

  previewBtn.addEventListener('click', async () => {
    const chosen = formValues(form)['colour.preset'];
    previewBtn.disabled = true;
    previewBtn.textContent = 'Reading stamps…';
    say('Reading a few stamps of the collection…');
    try {
      /** @type {import('./types.js').Preview | null} */
      const p = await api(`${API}/collections/preview`, { method: 'POST', body: body(form) });
      if (!p) throw new Error('the bridge sent no preview');
      clearErrors(form);
      presetBox.replaceChildren(presetGroup(schema.presets, p, typeof chosen === 'string' ? chosen : schema.defaultPreset));
      say(`Preview: ${plural(p.stamps.length, 'stamp')} in ${plural(p.presets.length, 'preset')}. Pick the colours you like, then register.`, 'ok');
      const checked = presetBox.querySelector('input:checked');
      if (checked instanceof HTMLElement) checked.focus();
    } catch (err) {
      const rest = showErrors(form, err);
      say(['No preview', ...rest], 'error');
    } finally {
      previewBtn.disabled = false;
      previewBtn.textContent = 'Preview colours';
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = form.querySelector('button[type=submit]');
    if (submit instanceof HTMLButtonElement) submit.disabled = true;
    try {
      /** @type {import('./types.js').PiCollection | null} */
      const c = await api(`${API}/collections`, { method: 'POST', body: body(form) });
      clearErrors(form);
      say(`Registered ${c?.collection ?? 'the collection'}: the bridge polls it now.`, 'ok');
      section.hidden = true;
      opener.setAttribute('aria-expanded', 'false');
      if (c) onRegistered(c.id);
    } catch (err) {
      const rest = showErrors(form, err);
      say(['The collection was not registered', ...rest], 'error');
    } finally {
      if (submit instanceof HTMLButtonElement) submit.disabled = false;
    }
  });
}
