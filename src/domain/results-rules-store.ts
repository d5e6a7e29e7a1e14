import type { Caller } from './caller.js';
import type { Collection } from './model.js';
import type { JobQueue } from './ports/job-queue.js';
import type { Repositories } from './ports/repositories.js';
import type { ResultEffectFilter, ResultEffectRecord } from './ports/result-effects-repository.js';
import type { StoredResultsRules } from './ports/results-rules-repository.js';
import { assertMayChange } from './collections.js';
import { NotFoundError } from './errors.js';
import { parseResultsRules, type ResultsRules } from './results-rules.js';

/**
 * A collection's results rules as its owner manages them: stored only when
 * valid and always switched off (a new text is dry-run before it acts),
 * switched on and off with an audit row, and the effects ledger listed.
 * Switching on queues a run at once.
 */

export interface StoredRulesView {
  stored: StoredResultsRules;
  rules: ResultsRules;
}

/**
 * Checks and stores the file (switched off); throws ResultsRulesError (a
 * ValidationError) with line numbers. With `queues`, a reduction run is
 * queued: the file's `reduce` settings may differ from the ones the stored
 * reductions were built with, and that run recomputes them (results-reduce.ts
 * compares the settings' digest), so a dry run reads reductions made the new way.
 */
export async function storeResultsRules(repos: Repositories, who: Caller, c: Collection, source: string, queues?: Pick<JobQueue, 'add'>): Promise<StoredRulesView> {
  assertMayChange(who, c, 'only the owner or an admin can change the results rules');
  const rules = parseResultsRules(source, 'results rules');
  const stored = await repos.transaction(async (tx) => {
    const before = await tx.resultsRules.get(c.id);
    const s = await tx.resultsRules.put(c.id, source, rules.digest, who.username);
    await tx.audit.append([
      { actor: who.username, action: 'results_rules_stored', entity: 'collection', entityId: c.id, collectionId: c.id, detail: { name: rules.name, version: rules.version, digest: rules.digest, previousDigest: before?.digest ?? null, wasEnabled: before?.enabled ?? false } },
    ]);
    return s;
  });
  await queues?.add('reduceResults', { collectionId: c.id });
  return { stored, rules };
}

export async function storedResultsRules(repos: Repositories, c: Collection): Promise<StoredRulesView> {
  const stored = await repos.resultsRules.get(c.id);
  if (!stored) throw new NotFoundError('this collection has no results rules');
  return { stored, rules: parseResultsRules(stored.source, 'results rules') };
}

/** Switches the stored rules on or off (audited); switching on queues a run. */
export async function setResultsRulesEnabled(d: { repos: Repositories; queues: Pick<JobQueue, 'add'> }, who: Caller, c: Collection, enabled: boolean): Promise<StoredResultsRules> {
  assertMayChange(who, c, 'only the owner or an admin can switch the results rules on or off');
  const stored = await d.repos.transaction(async (tx) => {
    const before = await tx.resultsRules.get(c.id);
    if (!before) throw new NotFoundError('this collection has no results rules to switch on or off: store a file first');
    await tx.resultsRules.setEnabled(c.id, enabled, who.username);
    await tx.audit.append([{ actor: who.username, action: enabled ? 'results_rules_enabled' : 'results_rules_disabled', entity: 'collection', entityId: c.id, collectionId: c.id, detail: { digest: before.digest, was: before.enabled } }]);
    return (await tx.resultsRules.get(c.id))!;
  });
  if (enabled) await d.queues.add('applyResultRules', { collectionId: c.id });
  return stored;
}

export async function listResultEffects(repos: Repositories, c: Collection, filter: ResultEffectFilter): Promise<{ items: ResultEffectRecord[]; next: string | null }> {
  const items = await repos.resultEffects.list(c.id, filter);
  return { items, next: items.length === filter.limit ? items[items.length - 1].id : null };
}
