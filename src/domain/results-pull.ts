import type { ClassificationSource } from './ports/classification-source.js';
import type { Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import type { Repositories } from './ports/repositories.js';
import { AppError, UpstreamError, UpstreamRefusedError } from './errors.js';
import { keepBridgeRows } from './results-classifications.js';

/**
 * The incremental pull of one project's classifications (issue 14).
 *
 * Each page is one transaction: its kept rows are inserted (idempotent on
 * (id, subject)), the kept/ignored counts bumped and the cursor moved to the
 * page's highest id together. A crash between pages leaves the cursor at
 * the last page stored, so the next run asks for exactly what is missing:
 * nothing is counted twice and nothing skipped. A run stops after
 * `maxPages` (one job does a bounded amount of work) and says `more`, so
 * its handler queues the next.
 *
 * Workflows seen for the first time are read from Panoptes and stored
 * (their tasks turn the pull's answer indices into labels). That read is
 * best effort: without it reductions show indices until it succeeds, and
 * the reduction's options digest then changes, recomputing them.
 */

export interface ResultsPullDeps {
  repos: Repositories;
  source: ClassificationSource;
  clock: Clock;
  log: Logger;
}

export interface PullReport {
  projectId: string;
  pages: number;
  kept: number;
  ignored: number;
  /** Collections that got new rows: each needs a reduction run. */
  collections: string[];
  /** Stopped at maxPages: there may be more. */
  more: boolean;
  cursor: string | null;
}

export async function pullProject(d: ResultsPullDeps, projectId: string, opts: { maxPages?: number; pageSize?: number } = {}): Promise<PullReport> {
  await d.repos.classifications.ensureCursor(projectId);
  const cursor = await d.repos.classifications.cursor(projectId);
  const report: PullReport = { projectId, pages: 0, kept: 0, ignored: 0, collections: [], more: false, cursor: cursor?.lastId ?? null };
  const collections = new Set<string>();
  const workflows = new Set<string>();
  try {
    for await (const page of d.source.pullSince(projectId, cursor?.lastId ?? null, opts)) {
      const k = await keepBridgeRows(d.repos, projectId, page.classifications, 'pull');
      const inserted = await d.repos.transaction(async (tx) => {
        const done = await tx.classifications.insert(k.rows);
        // Counted by what was newly stored: a page delivered again (the cursor write was lost) counts nothing twice.
        const fresh = new Set(done.ids);
        const kept = page.classifications.filter((c) => fresh.has(c.id)).length;
        await tx.classifications.recordPage(projectId, { lastId: page.cursor, kept, ignored: k.ignored, at: d.clock.now() });
        return { kept, collections: done.collections };
      });
      report.pages++;
      report.kept += inserted.kept;
      report.ignored += k.ignored;
      report.cursor = page.cursor;
      for (const c of inserted.collections) collections.add(c);
      for (const r of k.rows) workflows.add(r.workflowId);
    }
    if (report.pages === 0) await d.repos.classifications.recordPulled(projectId, d.clock.now());
  } catch (e) {
    await d.repos.classifications.recordPullError(projectId, pullErrorInWords(e)).catch(() => undefined);
    throw e;
  }
  report.more = opts.maxPages !== undefined && report.pages >= opts.maxPages;
  report.collections = [...collections].sort();
  await fetchWorkflows(d, projectId, [...workflows]);
  return report;
}

/** Stores the task definitions of workflows not known yet; failures are logged, never fatal. */
export async function fetchWorkflows(d: ResultsPullDeps, projectId: string, workflowIds: string[]): Promise<number> {
  const known = new Set(await d.repos.classifications.knownWorkflows(workflowIds));
  let stored = 0;
  for (const id of workflowIds) {
    if (known.has(id)) continue;
    try {
      const w = await d.source.workflow(id);
      if (!w) {
        d.log.warn({ projectId, workflowId: id }, 'Panoptes does not show this workflow: its answers stay as indices');
        continue;
      }
      await d.repos.classifications.saveWorkflow({ workflowId: w.id, projectId: w.projectId ?? projectId, version: w.version, displayName: w.displayName, tasks: w.tasks });
      stored++;
    } catch (e) {
      d.log.warn({ projectId, workflowId: id, err: (e as Error).message }, 'could not read the workflow from Panoptes; tried again with the next pull');
    }
  }
  return stored;
}

/** The stored reason a pull stopped, in words for the PI page. */
export function pullErrorInWords(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof UpstreamRefusedError) return `Panoptes refused: ${msg}`;
  if (e instanceof UpstreamError) return `Panoptes did not answer: ${msg}`;
  if (e instanceof AppError) return `Panoptes sent what the bridge cannot use: ${msg}`;
  return `The pull failed: ${msg}`;
}
