// @ts-check
// Entry point of the PI page: the header, the user's collections, the
// registration form, the chosen collection's details, notifications, and
// the Zooniverse projects approved for them or asked for.
// The chosen collection is kept in the address (#c=<id>) so a reload keeps it.

import { fillHeader } from '../page-header.js';
import { initCollections, markCurrent, reloadCollections } from './collections-list.js';
import { hideCollection, showCollection } from './detail.js';
import { initNotifications } from './notifications.js';
import { initProjects } from './projects.js';
import { initRegister } from './register.js';

fillHeader();

/** @param {string} id */
function pick(id) {
  history.replaceState(null, '', `#c=${encodeURIComponent(id)}`);
  markCurrent(id);
  void showCollection(id, () => void reloadCollections());
}

document.addEventListener('pi:register-open', () => {
  history.replaceState(null, '', location.pathname);
  markCurrent(null);
  hideCollection();
  document.getElementById('detail-empty')?.setAttribute('hidden', '');
});

void initRegister((id) => {
  void reloadCollections().then(() => pick(id));
});
void initNotifications();
void initProjects();
void initCollections(pick).then((items) => {
  const wanted = /^#c=([0-9a-f-]{36})$/.exec(location.hash)?.[1];
  if (wanted && items.some((c) => c.id === wanted)) pick(wanted);
});
