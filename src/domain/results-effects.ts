import type { Caller } from './caller.js';
import { changeableCollection } from './collections.js';
import { ConflictError, NotFoundError, UpstreamError } from './errors.js';
import type { Logger } from './ports/logger.js';
import { LockBusyError, type Lock } from './ports/lock.js';
import { AmbiguousRequestError } from './ports/panoptes-client.js';
import type { Repositories } from './ports/repositories.js';
import type { ResultEffectRecord, ResultEffectState } from './ports/result-effects-repository.js';
import type { RetirementRequest, ZooniverseEffects } from './ports/zooniverse-effects.js';
import { evaluateRules, intentsOf, readsRetired } from './results-evaluate.js';
import { parseResultsRules } from './results-rules.js';

/**
 * Applying a collection's results rules, each effect exactly once, with the
 * upload ledger's discipline (upload-engine.ts, upload-reconcile.ts):
 *
 * 1. an effect is a ledger row ('intent') before anything is sent, recorded
 *    with its audit row in one transaction; the row is unique per (workflow,
 *    subject, kind, target), so evaluating again records nothing twice;
 * 2. before a request leaves, its rows are 'sending' and committed;
 * 3. success -> 'done' with its audit row and event; a definitive refusal ->
 *    'failed' with the reason in words; an unknown outcome (a 504 after the
 *    commit, a lost connection) -> 'ambiguous';
 * 4. 'ambiguous' rows, and 'sending' rows a crash left behind, are settled by
 *    reading Panoptes (retirementOf / setMembers), never by sending again
 *    blindly: found -> 'done'; not found -> back to 'intent', sent on a later
 *    run (a retirement read once more after a wait first: Panoptes applies it
 *    in a background job).
 *
 * Flags are done at once (the results page shows them); a notify is an
 * event row (`subject_flagged`) that the webhook delivery picks up.
 */

export interface ResultEffectsDeps {
  repos: Repositories;
  /** Absent without Zooniverse credentials: Zooniverse effects then stay recorded as intents. */
  zooniverse?: ZooniverseEffects;
  log?: Logger;
  /** One run per collection at a time across workers: two would each settle what the other has in flight. */
  lock?: Lock;
  /** Wait before reading an unconfirmed retirement a second time (default 5 s). */
  retireReadBackDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ApplyReport {
  /** Why nothing was evaluated, when nothing was. */
  skipped?: string;
  subjects: number;
  recorded: number;
  done: number;
  failed: number;
  /** Zooniverse effects still not settled (intent, sending, ambiguous) after this run. */
  unsettled: number;
  /** Effects read back as not done after an unknown outcome, put back to be sent by a later run. */
  retryLater: number;
  problems: number;
}

/** The audit actor of effects the rules apply by themselves. */
export const RULES_ACTOR = 'results-rules';
/** Subjects per Panoptes request. */
const BATCH = 100;

type Row = ResultEffectRecord;

/**
 * Evaluates the enabled rules, records new effects, settles unsettled ones
 * and sends the rest. Throws ResultRulesBusyError when another run holds the
 * collection (the job is retried: that run may have read the reductions
 * before the newest ones arrived).
 */
export async function applyResultRules(d: ResultEffectsDeps, collectionId: string): Promise<ApplyReport> {
  if (!d.lock) return applyUnlocked(d, collectionId);
  const key = `result_rules:${collectionId}`;
  try {
    return await d.lock.withLock(key, () => applyUnlocked(d, collectionId));
  } catch (e) {
    if (e instanceof LockBusyError && e.key === key) throw new ResultRulesBusyError(`the results rules of collection ${collectionId} are being applied by ${e.elsewhere ? 'another worker' : 'another run'}; tried again later`);
    throw e;
  }
}

/** Another run is applying the collection's rules: retry later (not a failure of the rules). */
export class ResultRulesBusyError extends UpstreamError {}

async function applyUnlocked(d: ResultEffectsDeps, collectionId: string): Promise<ApplyReport> {
  const report: ApplyReport = { subjects: 0, recorded: 0, done: 0, failed: 0, unsettled: 0, retryLater: 0, problems: 0 };
  const stored = await d.repos.resultsRules.get(collectionId);
  if (!stored?.enabled) return { ...report, skipped: stored ? 'results rules are switched off' : 'no results rules' };
  const rules = parseResultsRules(stored.source, `results rules of collection ${collectionId}`);
  const collection = await d.repos.collections.get(collectionId);

  // What a crash or an unknown answer left: settled by reading Panoptes first.
  await settle(d, await d.repos.resultEffects.inStates(collectionId, ['sending', 'ambiguous']), report);

  // Only what changed since the rules last looked, unless a rule reads `retired`: that changes with the ledger, not the reduction.
  const since = readsRetired(rules) ? undefined : stored.evaluated_seq;
  const reductions = await d.repos.resultsRules.reductionsOf(collectionId, rules.workflow, since);
  // Only the recorded effects of the subjects looked at: the whole ledger only when every subject is.
  const ledger = since === undefined || since === 0 ? await d.repos.resultEffects.allOf(collectionId) : reductions.length ? await d.repos.resultEffects.allOf(collectionId, reductions.map((r) => ({ workflowId: r.workflow_id, subjectId: r.subject_id }))) : [];
  const evaluatedTo = reductions.reduce((m, r) => Math.max(m, r.change_seq), stored.evaluated_seq);
  const ev = evaluateRules(rules, reductions, ledger);
  report.subjects = ev.subjects;
  report.problems = ev.problems.length;
  for (const p of ev.problems.slice(0, 20)) d.log?.warn({ collectionId, rule: p.ruleId, subjectId: p.subjectId }, `results rule could not be evaluated: ${p.message}`);
  const intents = intentsOf(collectionId, ev.matches);
  // The intents and the mark commit together: a crash before both leaves the same reductions to look at again.
  await d.repos.transaction(async (tx) => {
    if (intents.length) {
      const rows = await tx.resultEffects.recordIntents(intents);
      report.recorded = rows.length;
      await tx.audit.append(rows.map((r) => audit(r, 'result_effect_recorded', { digest: stored.digest, values: r.detail.values })));
    }
    if (evaluatedTo > stored.evaluated_seq) await tx.resultsRules.markEvaluated(collectionId, stored.digest, evaluatedTo);
  });

  const pending = await d.repos.resultEffects.inStates(collectionId, ['intent']);
  const local = pending.filter((r) => r.kind === 'flag' || r.kind === 'notify');
  if (local.length) {
    await d.repos.transaction(async (tx) => {
      const done = await tx.resultEffects.mark(local.map((r) => r.id), ['intent'], 'done');
      await tx.audit.append(done.map((r) => audit(r, 'result_effect_done')));
      for (const r of done.filter((x) => x.kind === 'notify')) {
        await tx.events.record(collectionId, 'subject_flagged', { effectId: r.id, rule: r.rule_id, imageId: r.image_id, subjectId: r.subject_id, workflowId: r.workflow_id, message: r.detail.message ?? null, values: r.detail.values ?? {}, collection: collection.name });
      }
      report.done += done.length;
    });
  }
  const remote = pending.filter((r) => r.kind === 'retire_subject' || r.kind === 'add_subject_to_set');
  if (remote.length && !d.zooniverse) {
    d.log?.warn({ collectionId, waiting: remote.length }, 'results rules: Zooniverse effects wait: no Zooniverse credentials configured');
  } else if (remote.length && !collection.zooniverse_project_id) {
    d.log?.warn({ collectionId, waiting: remote.length }, 'results rules: Zooniverse effects wait: the collection has no Zooniverse project');
  } else if (remote.length) {
    for (const group of groups(remote)) {
      for (let i = 0; i < group.length; i += BATCH) await send(d, collection.name, group.slice(i, i + BATCH), report);
    }
  }
  report.unsettled = (await d.repos.resultEffects.inStates(collectionId, ['sending', 'ambiguous', 'intent'])).filter((r) => r.kind === 'retire_subject' || r.kind === 'add_subject_to_set').length;
  return report;
}

/** Rows that go in one request: same workflow and reason, or same set. */
function groups(rows: Row[]): Row[][] {
  const by = new Map<string, Row[]>();
  for (const r of rows) {
    const k = r.kind === 'retire_subject' ? `r\u0000${r.workflow_id}\u0000${reasonOf(r)}` : `s\u0000${r.target}`;
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  return [...by.values()];
}

const reasonOf = (r: Row): RetirementRequest => (r.detail.reason as RetirementRequest | undefined) ?? 'other';

async function send(d: ResultEffectsDeps, collectionName: string, rows: Row[], report: ApplyReport): Promise<void> {
  const z = d.zooniverse!;
  // Committed before the request leaves: a crash from here on leaves 'sending', which the next run reads back.
  const claimed = await d.repos.resultEffects.claimForSending(rows.map((r) => r.id));
  if (!claimed.length) return;
  const first = claimed[0];
  const ids = claimed.map((r) => r.subject_id);
  try {
    if (first.kind === 'retire_subject') await z.retireSubjects(first.workflow_id, ids, reasonOf(first));
    else await z.addSubjectsToSet(first.target, ids);
  } catch (e) {
    if (e instanceof AmbiguousRequestError) {
      const applied = new Set((e.detail?.applied as string[] | undefined) ?? []);
      await markDone(d, collectionName, claimed.filter((r) => applied.has(r.subject_id)), ['sending'], report);
      const doubt = claimed.filter((r) => !applied.has(r.subject_id));
      const marked = await d.repos.transaction(async (tx) => {
        const m = await tx.resultEffects.mark(doubt.map((r) => r.id), ['sending'], 'ambiguous', { error: `outcome unknown, being read back: ${e.message}` });
        await tx.audit.append(m.map((r) => audit(r, 'result_effect_ambiguous', { error: e.message })));
        return m;
      });
      await settle(d, marked, report, collectionName);
      return;
    }
    if (e instanceof UpstreamError) {
      // Refused before Panoptes acted (retries used up): nothing happened, so the rows may be sent again later.
      await d.repos.resultEffects.mark(claimed.map((r) => r.id), ['sending'], 'intent', { error: `not sent yet: ${e.message}` });
      throw e;
    }
    const why = e instanceof Error ? e.message : String(e);
    await d.repos.transaction(async (tx) => {
      const m = await tx.resultEffects.mark(claimed.map((r) => r.id), ['sending'], 'failed', { error: `Zooniverse refused it: ${why}` });
      await tx.audit.append(m.map((r) => audit(r, 'result_effect_failed', { error: why })));
      report.failed += m.length;
    });
    return;
  }
  await markDone(d, collectionName, claimed, ['sending'], report);
}

async function markDone(d: ResultEffectsDeps, collectionName: string, rows: Row[], from: ResultEffectState[], report: ApplyReport, detail?: Record<string, unknown>): Promise<void> {
  if (!rows.length) return;
  await d.repos.transaction(async (tx) => {
    const done = await tx.resultEffects.mark(rows.map((r) => r.id), from, 'done', { error: null, ...(detail ? { detail } : {}) });
    await tx.audit.append(done.map((r) => audit(r, 'result_effect_done', detail)));
    const retired = done.filter((r) => r.kind === 'retire_subject');
    if (retired.length) {
      await tx.events.record(retired[0].collection_id, 'subject_retired', {
        collection: collectionName,
        workflowId: retired[0].workflow_id,
        subjects: retired.map((r) => ({ effectId: r.id, subjectId: r.subject_id, imageId: r.image_id, rule: r.rule_id, reason: reasonOf(r) })),
      });
    }
    report.done += done.length;
  });
}

/**
 * Settles rows whose outcome is unknown by reading Panoptes: what is there
 * is done, what is not goes back to 'intent' (a retirement after a second
 * look, since Panoptes retires in a background job).
 */
async function settle(d: ResultEffectsDeps, rows: Row[], report: ApplyReport, collectionName?: string): Promise<void> {
  if (!rows.length) return;
  const local = rows.filter((r) => r.kind === 'flag' || r.kind === 'notify');
  const name = collectionName ?? (await d.repos.collections.get(rows[0].collection_id)).name;
  // Flags and notifies are never sent anywhere: one in 'sending' only lost its last write.
  await markDone(d, name, local, ['sending', 'ambiguous'], report);
  const remote = rows.filter((r) => r.kind === 'retire_subject' || r.kind === 'add_subject_to_set');
  if (!remote.length || !d.zooniverse) return;
  const z = d.zooniverse;
  for (const group of groups(remote)) {
    const first = group[0];
    const present = async (subset: Row[]): Promise<Set<string>> => {
      const ids = subset.map((r) => r.subject_id);
      if (first.kind === 'add_subject_to_set') return z.setMembers(first.target, ids);
      return new Set((await z.retirementOf(first.workflow_id, ids)).filter((s) => s.retired).map((s) => s.subjectId));
    };
    let found = await present(group);
    let missing = group.filter((r) => !found.has(r.subject_id));
    if (missing.length && first.kind === 'retire_subject') {
      await (d.sleep ?? ((ms) => new Promise((res) => setTimeout(res, ms))))(d.retireReadBackDelayMs ?? 5000);
      const again = await present(missing);
      found = new Set([...found, ...again]);
      missing = missing.filter((r) => !again.has(r.subject_id));
    }
    await markDone(d, name, group.filter((r) => found.has(r.subject_id)), ['sending', 'ambiguous'], report, { reconciled: true });
    if (missing.length) {
      await d.repos.transaction(async (tx) => {
        const m = await tx.resultEffects.mark(missing.map((r) => r.id), ['sending', 'ambiguous'], 'intent', { error: 'not found on Zooniverse after an unknown outcome: to be sent again' });
        await tx.audit.append(m.map((r) => audit(r, 'result_effect_not_found', {})));
        report.retryLater += m.length;
      });
    }
  }
}

function audit(r: Row, action: string, detail: Record<string, unknown> = {}, actor = RULES_ACTOR) {
  return {
    actor,
    action,
    entity: 'image' as const,
    entityId: r.image_id,
    collectionId: r.collection_id,
    detail: { effectId: r.id, rule: r.rule_id, kind: r.kind, target: r.target, workflowId: r.workflow_id, subjectId: r.subject_id, ...detail },
  };
}

// ---------------------------------------------------------------------- undo

/**
 * Undoes a done effect, when it can be: a flag is cleared, a subject added
 * to a set is removed from it. The row becomes 'undone' and stays in the
 * ledger, so the rule does not do it again. A retirement cannot be undone
 * (Panoptes has no un-retire in its API; only Zooniverse's admins can), and a
 * notification once sent cannot be taken back.
 */
export async function undoEffect(d: ResultEffectsDeps, effectId: string, who: Caller): Promise<Row> {
  const row = await d.repos.resultEffects.get(effectId);
  if (!row) throw new NotFoundError(`result effect ${effectId} not found`);
  await changeableCollection(d.repos, who, row.collection_id, 'only the owner or an admin can undo a results rule effect');
  if (row.kind === 'retire_subject') {
    throw new ConflictError(`subject ${row.subject_id} cannot be un-retired: Panoptes offers no way to undo a retirement through its API (only Zooniverse's admins can). Ask Zooniverse (contact@zooniverse.org) if it must be reversed.`, { effectId, kind: row.kind });
  }
  if (row.kind === 'notify') throw new ConflictError('a notification already sent cannot be taken back', { effectId, kind: row.kind });
  if (row.state !== 'done') throw new ConflictError(`only a done effect can be undone; this one is ${row.state}`, { effectId, state: row.state });
  if (row.kind === 'add_subject_to_set') {
    if (!d.zooniverse) throw new UpstreamError('Zooniverse is not configured (no credentials), so the subject cannot be removed from the set');
    // Idempotent: removing a subject that is no longer a member changes nothing, so this may be retried freely.
    await d.zooniverse.removeSubjectsFromSet(row.target, [row.subject_id]);
  }
  return d.repos.transaction(async (tx) => {
    const [undone] = await tx.resultEffects.mark([row.id], ['done'], 'undone', { detail: { undoneBy: who.username } });
    if (!undone) throw new ConflictError('the effect changed while it was being undone; look again');
    await tx.audit.append([audit(undone, 'result_effect_undone', {}, who.username)]);
    return undone;
  });
}
