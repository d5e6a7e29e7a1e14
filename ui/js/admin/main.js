// @ts-check
// Entry point of the admin page: the shared header, then, for admins, each
// section loaded from the admin API; anyone else gets one clear message
// (the API would answer 403 to every request here).

import { byId } from '../dom.js';
import { fillHeader } from '../page-header.js';
import { user } from '../session.js';
import * as collections from './collections.js';
import { loadBindings } from './bindings.js';
import { loadDelegations } from './grants.js';
import * as releases from './releases.js';
import * as stopped from './stopped.js';
import { showNotAdmin } from './ui.js';

fillHeader();

async function start() {
  if (!user.roles.includes('admin')) {
    showNotAdmin();
    return;
  }
  for (const id of ['admin-toc', 'collections', 'releases', 'delegations', 'bindings', 'stopped']) byId(id, HTMLElement).hidden = false;
  // The mapping first: the collections' release form offers its releases.
  const mapping = await releases.load();
  collections.useMapping(mapping);
  await Promise.all([collections.load(), loadDelegations(), loadBindings(), stopped.load()]);
}

void start();
