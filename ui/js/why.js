// @ts-check
// "Why", per collection (GET /collections/:id/why): the images grouped by
// what became of them (the policy's verdict, a reviewer's rejection, a failed
// conversion) and why, largest group first, each with the next step and, for
// an embargo, when it ends. Shown under the collection summary on the review
// page and in the PI dashboard's pipeline. Nothing here reads the review
// page's state, so the PI page can use it as it is.

import { API, api } from './api.js';
import { h } from './dom.js';
import { plural, timeEl } from './format.js';

/**
 * @typedef {{ outcome: string, rules: string[], reason: string, count: number, nextStep: string | null, until: string | null }} WhyGroup
 * @typedef {{ total: number, groups: WhyGroup[] }} Why
 */

/** What became of a group's images, after "N images". */
const OUTCOME_WORDS = /** @type {Record<string, string>} */ ({
  rejected: 'rejected by the policy',
  held: 'held by the policy',
  pending_review: 'sent to EPO review by the policy',
  auto_approved: 'approved by the policy',
  reviewer_approved: 'approved by an EPO reviewer',
  reviewer_rejected: 'rejected by a reviewer',
  failed: 'failed to convert',
});


/** The same, shorter, for a one-line brief. */
const OUTCOME_SHORT = /** @type {Record<string, string>} */ ({
  rejected: 'rejected by the policy',
  held: 'held',
  pending_review: 'to EPO review',
  auto_approved: 'approved by the policy',
  reviewer_approved: 'approved in review',
  reviewer_rejected: 'rejected by a reviewer',
  failed: 'failed',
});

/** Outcomes that ask nothing of anyone beyond the review under way. */
const ROUTINE = new Set(['pending_review', 'auto_approved', 'reviewer_approved']);

/** Some group needs someone to act (or to wait for an embargo): worth showing unasked. @param {Why} why */
export function needsAttention(why) {
  return why.groups.some((g) => !ROUTINE.has(g.outcome));
}

/** "2 to EPO review · 1 failed · 1 held": the counts per outcome, largest first. @param {Why} why */
export function whyBrief(why) {
  /** @type {Map<string, number>} */
  const by = new Map();
  for (const g of why.groups) by.set(g.outcome, (by.get(g.outcome) ?? 0) + g.count);
  return [...by].sort((x, y) => y[1] - x[1]).map(([o, n]) => `${n} ${OUTCOME_SHORT[o] ?? o.replace(/_/g, ' ')}`).join(' · ');
}

/** @param {string} id @returns {Promise<Why | null>} */
export async function fetchWhy(id) {
  try {
    /** @type {Why | null} */
    const why = await api(`${API}/collections/${encodeURIComponent(id)}/why`);
    return why && Array.isArray(why.groups) ? why : null;
  } catch {
    return null; // a convenience beside the counts: its absence says nothing went wrong
  }
}

/**
 * @param {string} term
 * @param {Node | string} value
 */
function fact(term, value) {
  return h('div', { class: 'why-fact' }, h('dt', { text: `${term}:` }), ' ', h('dd', null, value));
}

/** @param {WhyGroup} g */
function groupItem(g) {
  return h('li', { class: `why-group why-${g.outcome}`, dataset: { outcome: g.outcome } },
    h('p', { class: 'why-head' }, h('strong', { text: plural(g.count, 'image') }), ` ${OUTCOME_WORDS[g.outcome] ?? g.outcome.replace(/_/g, ' ')}`),
    h('dl', { class: 'why-facts' },
      fact('Why', g.reason || 'no reason was recorded'),
      g.nextStep ? fact('Next step', g.nextStep) : null,
      g.until ? fact('Embargo ends', timeEl(g.until)) : null));
}

/**
 * The summary as nodes: a line with the totals, then the groups as a list,
 * the largest `shown` at once and the rest (many distinct reviewer reasons,
 * say) behind "more".
 * @param {Why} why
 * @param {string} label the accessible name of the list
 * @param {number} [shown]
 * @returns {Node[]}
 */
export function whyNodes(why, label, shown = 6) {
  const judged = why.groups.reduce((a, g) => a + g.count, 0);
  const waiting = Math.max(0, why.total - judged);
  const line = why.groups.length
    ? `${plural(why.total, 'image')}${waiting ? `, ${waiting} still waiting for the policy's verdict` : ''}. Largest group first:`
    : why.total ? `${plural(why.total, 'image')}, none judged by the policy yet.` : 'No images yet.';
  const first = why.groups.slice(0, shown);
  const rest = why.groups.slice(shown);
  return [
    h('p', { class: 'why-total', text: line }),
    first.length ? h('ul', { class: 'why-list', 'aria-label': label }, first.map(groupItem)) : null,
    rest.length
      ? h('details', { class: 'why-more' },
          h('summary', { text: `${plural(rest.length, 'more group')} (${plural(rest.reduce((a, g) => a + g.count, 0), 'image')})` }),
          h('ul', { class: 'why-list', 'aria-label': `${label}, continued` }, rest.map(groupItem)))
      : null,
  ].filter((x) => x !== null);
}
