// @ts-check
// The page-wide keyboard shortcuts (A approve, R reject, U undo, Ctrl/⌘+A,
// Escape, ?) and the dialog that lists them. Moving within the grid is
// grid-navigation.js's.

import { decide, openReject } from './decisions.js';
import { isTypingTarget } from './dom.js';
import { els } from './elements.js';
import { clearSelection, selectAll } from './selection.js';
import { state } from './state.js';

/** A modal dialog has the keyboard to itself. */
function anyDialogOpen() {
  return els.rejectDialog.open || els.viewer.open || els.help.open || els.confirmDialog.open;
}

function openHelp() {
  if (!els.help.open) els.help.showModal();
}

/** @param {KeyboardEvent} e */
function onDocumentKey(e) {
  if (e.defaultPrevented || anyDialogOpen() || isTypingTarget(e.target)) return;
  const key = e.key;
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && (key === 'a' || key === 'A')) {
    // Left to the browser (select the page's text) when there is nothing to select.
    if (state.readOnly || state.images.length === 0) return;
    e.preventDefault();
    selectAll();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  switch (key) {
    case 'a': case 'A':
      e.preventDefault();
      decide('approve');
      break;
    case 'r': case 'R':
      e.preventDefault();
      openReject();
      break;
    case 'u': case 'U':
      e.preventDefault();
      decide('undo');
      break;
    case '?':
      e.preventDefault();
      openHelp();
      break;
    case 'Escape':
      if (state.selected.size) {
        e.preventDefault();
        clearSelection();
      }
      break;
    default:
  }
}

export function wireKeyboard() {
  els.helpOpen.addEventListener('click', openHelp);
  els.helpClose.addEventListener('click', () => els.help.close());

  document.addEventListener('keydown', onDocumentKey);
}
