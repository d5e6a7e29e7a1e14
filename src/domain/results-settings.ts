import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';
import type { CollectionReduceSettings } from './results-reduce.js';
import { parseResultsRules } from './results-rules.js';

/**
 * A collection's reduce settings, read from its stored results rules file
 * (switched on or not: a dry run reads reductions made with the file's
 * settings). No file, or one that no longer parses: the defaults (null).
 */
export function reduceSettingsFromRules(repos: Repositories, log?: Logger): (collectionId: string) => Promise<CollectionReduceSettings | null> {
  return async (collectionId) => {
    const stored = await repos.resultsRules.get(collectionId);
    if (!stored) return null;
    try {
      const rules = parseResultsRules(stored.source, `results rules of collection ${collectionId}`);
      return rules.workflow === undefined ? { ...rules.reduce } : { ...rules.reduce, workflow: rules.workflow };
    } catch (e) {
      log?.warn({ collectionId, err: (e as Error).message }, 'the stored results rules no longer parse: reducing with the defaults');
      return null;
    }
  };
}
