import type { Caller } from './caller.js';
import { isAdmin } from './caller.js';
import { ForbiddenError } from './errors.js';
import type { Page, Repositories } from './ports/repositories.js';
import type { StoppedKind, StoppedWork } from './ports/stopped-work-repository.js';
import type { ReleaseCatalogue, ReleaseInfo } from './releases.js';

/**
 * What an EPO admin oversees across the deployment: the dead-letter list
 * (every failed artifact, failed stamp and failed, blocked or waiting
 * upload batch of every collection: the database is the record of failed
 * work, since failed jobs leave the queue) and the release mapping in force.
 * Retrying stays with `retry.ts`, per collection, as the owner would.
 */

function assertAdmin(who: Caller): void {
  if (!isAdmin(who)) throw new ForbiddenError('requires role admin');
}

export interface StoppedWorkPage extends Page<StoppedWork & { dataset_ids: string[] }> {
  /** How many of each kind there are across all collections (not only on this page). */
  counts: Record<StoppedKind, number>;
}

/** Stopped work across all collections, newest first, a page at a time; a stamp carries the datasets it was made from. */
export async function listStoppedWork(repos: Repositories, who: Caller, f: { after?: string; limit: number }): Promise<StoppedWorkPage> {
  assertAdmin(who);
  const page = await repos.stoppedWork.list(f);
  const stamps = page.items.filter((i) => i.kind === 'stamp').map((i) => i.id);
  const datasets = stamps.length ? await repos.images.datasetIds(stamps) : new Map<string, string[]>();
  const items = page.items.map((i) => ({ ...i, dataset_ids: i.kind === 'stamp' ? (datasets.get(i.id) ?? []) : i.dataset_id ? [i.dataset_id] : [] }));
  return { items, next: page.next, counts: await repos.stoppedWork.counts() };
}

export interface ReleaseMapping {
  /** `file` when the operator's RELEASES_FILE is in force, `built-in` for the default mapping. */
  source: 'file' | 'built-in';
  /** The RELEASES_FILE path, when there is one. */
  file: string | null;
  entries: Array<ReleaseInfo & { label: string }>;
}

/** The repository label -> release mapping in force, labels in order; admins only. */
export function releaseMapping(who: Caller, catalogue: ReleaseCatalogue, file: string | undefined): ReleaseMapping {
  assertAdmin(who);
  const entries = Object.keys(catalogue)
    .sort((a, b) => a.localeCompare(b))
    .map((label) => ({ label, ...catalogue[label] }));
  return { source: file ? 'file' : 'built-in', file: file ?? null, entries };
}
