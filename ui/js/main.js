// @ts-check
// Reviewer (and PI) page of the RSP → Zooniverse bridge: the entry module,
// loaded by review.html with <script type="module">. No framework, no
// third-party code; the server bundles these modules into one file
// (src/api/ui-bundles.ts) so the page's script arrives in one response.
// It wires the page together and loads what the URL asks for.

import { fillHeader } from './page-header.js';
import { startCountdowns } from './countdown.js';
import { startMediaRefresh } from './media-refresh.js';
import { wireLayout } from './layout.js';
import { messageOf } from './api.js';
import { loadAudit } from './audit.js';
import { loadBatches, loadCollections, refreshCounts, renderCollectionSummary } from './collections.js';
import { wireDecisions } from './decisions.js';
import { h } from './dom.js';
import { els } from './elements.js';
import { loadImages, resetGrid, showEmpty } from './grid.js';
import { wireGrid } from './grid-navigation.js';
import { wireKeyboard } from './keyboard.js';
import { applyMode } from './read-only.js';
import { clearSelection, selectAll, toggleAllMatching, updateToolbar } from './selection.js';
import { state } from './state.js';
import { say } from './status.js';
import { resumeUploadsWhenVisible } from './upload-progress.js';
import { readUrl, writeUrl } from './url-filters.js';
import { wireViewer } from './viewer.js';

function wire() {
  els.collection.addEventListener('change', async () => {
    writeUrl();
    state.batches = [];
    renderCollectionSummary();
    resetGrid();
    els.grid.setAttribute('aria-busy', 'true');
    loadAudit();
    try {
      await loadBatches();
    } catch (err) {
      say(`Could not load deliveries. ${messageOf(err)}`, 'error');
    }
    // Again, now that the batch picker holds this collection's batches.
    writeUrl();
    loadImages();
  });
  for (const sel of [els.batch, els.verdict, els.state]) {
    sel.addEventListener('change', () => {
      writeUrl();
      loadImages();
    });
  }
  els.refresh.addEventListener('click', () => {
    loadImages({ page: state.page });
    loadAudit();
    refreshCounts();
  });
  els.pagePrev.addEventListener('click', () => loadImages({ page: state.page - 1 }));
  els.pageNext.addEventListener('click', () => loadImages({ page: state.page + 1 }));
  els.auditRefresh.addEventListener('click', () => loadAudit());

  wireGrid();
  wireLayout();

  els.selectAll.addEventListener('click', selectAll);
  els.selectMatchingButton.addEventListener('click', () => void toggleAllMatching());
  els.selectNone.addEventListener('click', () => clearSelection());

  wireDecisions();
  wireViewer();
  wireKeyboard();
}

async function init() {
  fillHeader();

  const fromUrl = readUrl();
  els.verdict.value = fromUrl.verdict;
  els.state.value = fromUrl.state;
  wire();
  applyMode();
  updateToolbar();

  try {
    // The first page of images goes first; the sidebar's summary, the trail and the deliveries follow (one database serves them in turn).
    await loadCollections({ summary: false });
  } catch (err) {
    els.collection.replaceChildren(h('option', { value: '', text: 'Unavailable' }));
    showEmpty('Collections could not be loaded.');
    els.grid.setAttribute('aria-busy', 'false');
    say(`Could not load collections. ${messageOf(err)}`, 'error');
    return;
  }
  const deliveries = async () => {
    try {
      await loadBatches({ keep: fromUrl.batch });
    } catch (err) {
      say(`Could not load deliveries. ${messageOf(err)}`, 'error');
    }
  };
  if (fromUrl.batch) {
    // A delivery in the URL filters the images: its picker must hold it first.
    await deliveries();
    writeUrl();
    await loadImages();
  } else {
    await loadImages();
    await deliveries();
    writeUrl();
  }
  renderCollectionSummary();
  loadAudit();
}

init();
startCountdowns();
startMediaRefresh();

resumeUploadsWhenVisible();
