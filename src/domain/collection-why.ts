import type { Collection } from './model.js';
import type { ImageOutcome, OutcomeGroupRow } from './ports/images-repository.js';
import type { Repositories } from './ports/repositories.js';
import type { Caller } from './caller.js';
import { visibleCollection } from './collections.js';

/**
 * "Why", per collection: the PI's images grouped by what became of them
 * (the policy's verdict, a reviewer's rejection, a failed conversion) and
 * why, largest group first, each with the next step in words. The steps
 * come from a small table of the shipped policy's rules
 * (policies/rubin-default.yaml); a rule not in it gets a generic step for
 * its outcome, so another policy file still gets an answer.
 */

export interface WhyGroup {
  outcome: ImageOutcome;
  rules: string[];
  reason: string;
  count: number;
  nextStep: string | null;
  /** For an embargo: when it ends for the group's most recently observed image (ISO time). */
  until: string | null;
}

export interface WhyAnswer {
  /** All the collection's images, grouped or not (those still waiting for a verdict are in no group). */
  total: number;
  groups: WhyGroup[];
}

/** The shipped policy's params.prompt_embargo_hours: prompt data is embargoed at least this long whatever the release mapping says. */
const PROMPT_EMBARGO_HOURS = 80;

const PANEL_STEP = 'ask the Data Rights Panel to approve this collection (an EPO admin records it)';

interface Context {
  collection: Pick<Collection, 'data_release' | 'release_embargo_hours'>;
  now: Date;
  group: OutcomeGroupRow;
}

interface StepRule {
  rule: string;
  /** The rule explains the group's outcome (not merely matched: a cap rule matches every image, yet refuses only those over it). */
  explains(g: OutcomeGroupRow): boolean;
  step(x: Context): { step: string; until?: string | null };
}

/** A cap's reason as the policy engine writes it (src/policies/evaluate.ts), its image counts cut by the query. */
const CAP = /over the per-(batch|collection) cap: max_per_(?:batch|collection) is (\d+) \(rule "([^"]+)"\)/;

function capOf(reason: string): { kind: 'batch' | 'collection'; max: number; rule: string } | undefined {
  const m = CAP.exec(reason);
  return m ? { kind: m[1] as 'batch' | 'collection', max: Number(m[2]), rule: m[3] } : undefined;
}

function when(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const STEPS: StepRule[] = [
  {
    rule: 'prompt-embargo',
    explains: (g) => g.outcome === 'rejected' && g.rules.includes('prompt-embargo'),
    step({ collection: c, now, group }) {
      if (!group.newestObservedAt) return { step: 'the cutouts carry no observation time, so their embargo cannot be seen to end: write the observation time into their headers and add them again', until: null };
      const hours = Math.max(c.release_embargo_hours, (c.data_release ?? '').toLowerCase() === 'prompt' ? PROMPT_EMBARGO_HOURS : 0);
      const ends = new Date(group.newestObservedAt.getTime() + hours * 3_600_000);
      return { step: ends > now ? `embargo ends ${when(ends)}` : `embargo ended ${when(ends)}; ask an EPO admin to have these images judged again`, until: ends.toISOString() };
    },
  },
  {
    rule: 'owner-holds-data-rights',
    explains: (g) => g.outcome === 'rejected' && g.rules.includes('owner-holds-data-rights'),
    step: ({ collection: c }) => ({ step: `the owner needs data rights for ${c.data_release ?? 'this data release'}` }),
  },
  {
    rule: 'proprietary-needs-approval',
    explains: (g) => (g.outcome === 'held' || g.outcome === 'rejected') && g.rules.includes('proprietary-needs-approval'),
    step: () => ({ step: PANEL_STEP }),
  },
  {
    rule: 'pre-approval-limit',
    explains: (g) => g.outcome === 'rejected' && capOf(g.reason)?.rule === 'pre-approval-limit',
    step: ({ group }) => ({ step: `the cap of ${capOf(group.reason)!.max} images per collection before Data Rights Panel approval (rule pre-approval-limit) is reached: ${PANEL_STEP}` }),
  },
  {
    rule: 'post-approval-limit',
    explains: (g) => g.outcome === 'rejected' && capOf(g.reason)?.rule === 'post-approval-limit',
    // The policy's "batch" is a delivery on the page (what one poll of the Butler found), not an upload batch.
    step: ({ group }) => ({ step: `the cap of ${capOf(group.reason)!.max} images per delivery (rule post-approval-limit) is reached: send the rest in a later delivery (another poll of the Butler), or ask EPO for an exception` }),
  },
  {
    rule: 'epo-review',
    explains: (g) => g.outcome === 'pending_review' && g.rules.includes('epo-review'),
    step: () => ({ step: 'an EPO reviewer looks at each image; nothing to do until then' }),
  },
];

/** When no rule of the table explains a group: a step for its outcome alone. */
function genericStep(g: OutcomeGroupRow): string | null {
  const cap = capOf(g.reason);
  switch (g.outcome) {
    case 'failed':
      return 'fix or remove the file, then Retry';
    case 'reviewer_rejected':
      return 'an EPO reviewer rejected these for the reason given; send corrected cutouts, or ask the reviewer to undo it';
    case 'auto_approved':
    case 'reviewer_approved':
      return null;
    case 'pending_review':
      return 'an EPO reviewer looks at each image; nothing to do until then';
    case 'held':
      return `held by the policy (${g.rules.join(', ') || 'no rule named'}) until what it checks changes; ask an EPO admin what is missing`;
    case 'rejected':
      if (cap) return `the cap of ${cap.max} images per ${cap.kind === 'batch' ? 'delivery' : 'collection'} (rule ${cap.rule}) is reached; ask an EPO admin`;
      return `refused by the policy (${g.rules.join(', ') || 'no rule named'}); ask an EPO admin if it should not apply`;
  }
}

/** The groups with their next steps, as the shipped policy's rules explain them (pure: the rows, the collection's release facts, the time). */
export function explainOutcomes(collection: Context['collection'], rows: OutcomeGroupRow[], now: Date): WhyGroup[] {
  return rows.map((group) => {
    const steps: string[] = [];
    let until: string | null = null;
    if (group.outcome !== 'failed' && group.outcome !== 'reviewer_rejected' && group.outcome !== 'reviewer_approved') {
      for (const s of STEPS) {
        if (!s.explains(group)) continue;
        const r = s.step({ collection, now, group });
        if (!steps.includes(r.step)) steps.push(r.step);
        if (r.until) until = r.until;
      }
    }
    const nextStep = steps.length ? steps.join('; then ') : genericStep(group);
    return { outcome: group.outcome, rules: group.rules, reason: group.reason, count: group.count, nextStep, until };
  });
}

/** For the collection's owner, reviewers and admins (as GET /collections/{id}). */
export async function collectionWhy(repos: Repositories, who: Caller, collectionId: string, now: Date): Promise<WhyAnswer> {
  const c = await visibleCollection(repos, who, collectionId);
  const rows = await repos.images.outcomeGroups(c.id);
  const counts = (await repos.collections.imageCountsOf([c.id])).get(c.id) ?? {};
  return { total: Object.values(counts).reduce((a, b) => a + b, 0), groups: explainOutcomes(c, rows, now) };
}
