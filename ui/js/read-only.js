// @ts-check
// Read-only mode: PIs, and reviewers looking at their own collection
// (separation of duties), see the images but get no selection or decisions.

import { els } from './elements.js';
import { isReviewer, user } from './session.js';
import { clearSelection, syncSelected } from './selection.js';
import { state } from './state.js';

/**
 * Re-run whenever the images change. A reviewer's page is read-only when every
 * image shown is of their own collection; images the policy rejected or holds
 * are not decidable either, but that is said on each card (decidable.js), not
 * by turning the page read-only.
 */
export function applyMode() {
  const allOwn = state.images.length > 0 && state.images.every((i) => i.owner === user.username);
  const readOnly = !isReviewer || allOwn;
  state.readOnly = readOnly;
  els.actions.hidden = readOnly;
  els.selectAll.hidden = readOnly;
  els.selectNone.hidden = readOnly;
  els.selectedCount.hidden = readOnly;
  els.toolbar.classList.toggle('toolbar-readonly', readOnly);
  els.grid.setAttribute('aria-multiselectable', readOnly ? 'false' : 'true');
  if (readOnly) {
    const base = "You can see your collection's images; EPO reviewers decide.";
    els.readonlyNote.textContent = isReviewer
      ? `${base} You own this collection, so another reviewer must approve or reject its images (separation of duties).`
      : base;
    els.readonlyNote.hidden = false;
    if (state.selected.size) clearSelection({ quiet: true });
  } else {
    els.readonlyNote.hidden = true;
  }
  for (const [id, card] of state.cardById) {
    if (readOnly) card.removeAttribute('aria-selected');
    else syncSelected(card, id);
  }
}
