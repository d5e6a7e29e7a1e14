import type { Collection } from './model.js';
import type { JobQueue } from './ports/job-queue.js';
import type { Repositories } from './ports/repositories.js';
import type { Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import { derivedRelease, type ReleaseCatalogue } from './releases.js';

/**
 * When a fact the policy reads changes after images were judged (a Data
 * Rights Panel approval, the operator's release mapping or an admin's
 * override, the policy file itself, the owner's data rights), the images on
 * which the policy's verdict still stands are judged again with the new
 * facts. What a reviewer decided is never reopened, and nothing already
 * public is: those need a person (retraction, takedown).
 *
 * Reopening clears the verdict (rejected and approved images go back to
 * quarantine) and writes one `policy_reopened` audit entry per image naming
 * the cause and the verdict it had; the old `policy_*` entry stays, so the
 * audit log holds every verdict an image ever had. The evaluate job then
 * gives each image its new verdict.
 */
export interface ReevaluationCause {
  /** Who or what changed the fact: an admin's username, `system:releases`, `system:policy`, `identity:<username>`. */
  actor: string;
  /** The change, in words a reviewer and the PI understand. */
  reason: string;
}

const CHUNK = 500;

/** Inside the caller's transaction: reopens the collection's policy-decided images (optionally only those judged by another policy file). Returns how many. */
export async function reopenVerdicts(tx: Repositories, collectionId: string, cause: ReevaluationCause, opts: { staleDigest?: string } = {}): Promise<number> {
  let n = 0;
  for (;;) {
    const imgs = await tx.images.reopenable(collectionId, { staleDigest: opts.staleDigest, limit: CHUNK });
    if (!imgs.length) break;
    const audited = [];
    for (const img of imgs) {
      const cleared = { verdict: null, verdict_reasons: [], verdict_rules: [], strip_coordinates: false, one_incomplete_set: false, evaluated_at: null, error: null, recheck_reason: cause.reason };
      if (img.state === 'quarantined') await tx.images.update(img.id, cleared);
      // Only rejected or approved-not-yet-published images get here; a row that moved meanwhile is left as it is.
      else if (!(await tx.images.transition(img.id, img.state, 'quarantined', cause.actor, cleared, cause.reason))) continue;
      audited.push({
        actor: cause.actor,
        action: 'policy_reopened',
        entity: 'image' as const,
        entityId: img.id,
        collectionId,
        policyRef: img.policy_ref,
        reason: cause.reason,
        detail: { previous: { state: img.state, verdict: img.verdict, reasons: img.verdict_reasons, policy_digest: img.policy_digest, error: img.error } },
      });
    }
    await tx.audit.append(audited);
    n += audited.length;
    // A chunk where every row moved under us would loop forever otherwise.
    if (!audited.length) break;
  }
  if (n) await tx.events.record(collectionId, 'verdicts_reopened', { images: n, reason: cause.reason });
  return n;
}

/** Queues the evaluation that gives reopened images their new verdicts (a fresh job id, so a running evaluation does not swallow it). */
export async function queueReevaluation(queues: Pick<JobQueue, 'add'>, collectionId: string, clock: Clock): Promise<void> {
  await queues.add('evaluate', { collectionId, after: `reopen-${clock.now().toISOString()}` });
}

export interface DriftDeps {
  repos: Repositories;
  queues: Pick<JobQueue, 'add'>;
  clock: Clock;
  releases: ReleaseCatalogue;
  /** sha256 of the policy file in force. */
  policyDigest: string;
  policyRef: string;
}

export interface DriftReport {
  /** Collections whose release the mapping now derives differently. */
  releases: number;
  /** Collections with images judged by another policy file. */
  policy: number;
  /** Images reopened for either reason. */
  reopened: number;
}

/**
 * What the sweep does for facts that change outside any request: the
 * operator edited RELEASES_FILE or the policy file and restarted. Each
 * collection whose derived release differs is updated (audited) and its
 * images reopened; images judged by another policy file are reopened.
 * Collections with an admin's release override keep it.
 */
export async function reevaluateDrift(d: DriftDeps, limit = 200): Promise<DriftReport> {
  const out: DriftReport = { releases: 0, policy: 0, reopened: 0 };
  const touched = new Set<string>();
  for (const c of await d.repos.collections.list()) {
    if (c.status === 'retired' || (c.release_source !== 'mapping' && c.release_source !== 'unmapped')) continue;
    const r = derivedRelease(d.releases, c.repository);
    if (r.name === c.data_release && r.source === c.release_source && r.proprietary === c.release_proprietary && r.embargoHours === c.release_embargo_hours) continue;
    out.reopened += await d.repos.transaction(async (tx) => {
      await tx.collections.update(c.id, { data_release: r.name, release_source: r.source, release_proprietary: r.proprietary, release_embargo_hours: r.embargoHours });
      const from = describeRelease(c);
      const to = `${r.name} (${r.source}, ${r.proprietary ? 'proprietary' : 'public'}, embargo ${r.embargoHours} h)`;
      await tx.audit.append([{ actor: 'system:releases', action: 'release_remapped', entity: 'collection', entityId: c.id, collectionId: c.id, reason: `the release mapping now says ${to}`, detail: { from, to } }]);
      return reopenVerdicts(tx, c.id, { actor: 'system:releases', reason: `release changed by the operator's mapping: ${from} -> ${to}` });
    });
    out.releases++;
    touched.add(c.id);
  }
  for (const id of await d.repos.images.staleVerdictCollections(d.policyDigest, limit)) {
    out.reopened += await d.repos.transaction((tx) => reopenVerdicts(tx, id, { actor: 'system:policy', reason: `the policy changed: now ${d.policyRef} (sha256 ${d.policyDigest.slice(0, 12)})` }, { staleDigest: d.policyDigest }));
    out.policy++;
    touched.add(id);
  }
  for (const id of touched) await queueReevaluation(d.queues, id, d.clock);
  return out;
}

export function describeRelease(c: Pick<Collection, 'data_release' | 'release_source' | 'release_proprietary' | 'release_embargo_hours'>): string {
  return `${c.data_release ?? 'unknown'} (${c.release_source}, ${c.release_proprietary ? 'proprietary' : 'public'}, embargo ${c.release_embargo_hours} h)`;
}

/**
 * The owner's data rights as the identity provider states them now. They
 * are a policy fact stored with each collection at registration; when the
 * provider says otherwise (rights granted or withdrawn), the collections
 * follow, audited, and their policy-decided images are judged again.
 * Returns the collections that changed.
 */
export async function refreshOwnerRights(d: { repos: Repositories; queues: Pick<JobQueue, 'add'>; clock: Clock }, username: string, rights: readonly string[]): Promise<string[]> {
  const now = [...new Set(rights)].sort();
  const changed: string[] = [];
  for (const c of await d.repos.collections.list({ owner: username })) {
    const before = [...new Set(c.owner_data_rights)].sort();
    if (c.status === 'retired' || before.join(' ') === now.join(' ')) continue;
    const actor = `identity:${username}`;
    const reopened = await d.repos.transaction(async (tx) => {
      await tx.collections.update(c.id, { owner_data_rights: now });
      await tx.audit.append([{ actor, action: 'owner_data_rights', entity: 'collection', entityId: c.id, collectionId: c.id, reason: 'the identity provider states different data rights for the owner', detail: { from: before, to: now } }]);
      return reopenVerdicts(tx, c.id, { actor, reason: `the owner's data rights changed: [${before.join(', ')}] -> [${now.join(', ')}]` });
    });
    if (reopened) await queueReevaluation(d.queues, c.id, d.clock);
    changed.push(c.id);
  }
  return changed;
}

/**
 * Calls refreshOwnerRights when a signed-in user's rights differ from what
 * this process last saw for them, so the check costs a map lookup per
 * request. Never fails the request: a failure is logged and retried at the
 * user's next request.
 */
export function ownerRightsWatcher(d: { repos: Repositories; queues: Pick<JobQueue, 'add'>; clock: Clock; log: Logger }): (username: string, rights: readonly string[]) => void {
  const seen = new Map<string, string>();
  return (username, rights) => {
    const key = [...new Set(rights)].sort().join(' ');
    if (seen.get(username) === key) return;
    if (seen.size > 10_000) seen.clear();
    seen.set(username, key);
    refreshOwnerRights(d, username, rights).catch((e: Error) => {
      seen.delete(username);
      d.log.warn({ err: e.message, username }, 'could not refresh the owner data rights of collections');
    });
  };
}
