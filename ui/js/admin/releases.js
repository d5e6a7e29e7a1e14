// @ts-check
// The release mapping in force (GET /releases): repository label -> data
// release, and where the mapping came from (RELEASES_FILE or built in).

import { API, api } from '../api.js';
import { h } from '../dom.js';
import { fill, loadFailed, table } from './ui.js';

const BODY = 'releases-body';

/** @returns {Promise<import('./types.js').ReleaseEntry[]>} the entries, for the collections' override form */
export async function load() {
  try {
    /** @type {import('./types.js').ReleaseMapping | null} */
    const m = await api(`${API}/releases`);
    const items = m?.items ?? [];
    const from = m?.source === 'file'
      ? h('p', { class: 'mapping-source' }, 'In force: the operator’s file ', h('code', { text: m.file ?? '' }), ' (RELEASES_FILE). Editing it takes effect when the bridge restarts.')
      : h('p', { class: 'mapping-source' }, 'In force: the built-in default mapping (no RELEASES_FILE is set).');
    fill(BODY,
      from,
      items.length
        ? table('Release mapping: repository label to data release', ['Repository label', 'Release', 'Prompt products', 'Rights', 'Embargo'], items.map((e) => [
            h('code', { text: e.label }),
            e.release,
            e.prompt ? 'yes' : 'no',
            e.proprietary ? 'proprietary' : 'public',
            e.embargoHours ? `${e.embargoHours} h after observation` : 'none',
          ]), { className: 'releases-table', scroll: true })
        : h('p', { class: 'empty-note', text: 'The mapping is empty: every collection is registered as release "unknown".' }));
    return items;
  } catch (err) {
    loadFailed(BODY, 'the release mapping', err);
    return [];
  }
}
