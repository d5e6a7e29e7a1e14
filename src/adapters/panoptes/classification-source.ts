import { z } from 'zod';

import { UpstreamError } from '../../domain/errors.js';
import {
  ExportNotReadyError,
  type ClassificationPage,
  type ClassificationSource,
  type ExportRequest,
  type ExportResource,
  type ExportStatus,
  type ExportStream,
  type PullOptions,
  type WorkflowDefinition,
} from '../../domain/ports/classification-source.js';
import { PanoptesNotFound, PanoptesUnreadable } from '../../domain/ports/panoptes-client.js';
import { ClassificationJson, toRawClassification } from './classification-json.js';
import { ExportLinkRefused, downloadExport, type ExportDownloadOptions } from './export-download.js';
import { MAX_PAGE_SIZE, PanoptesTransport, idPart, type PanoptesTransportOptions } from './panoptes-transport.js';

/*
 * ClassificationSource over Panoptes' API (shared/reference/results.md);
 * the port says what is promised, this file how.
 *
 * The pull asks /classifications/project with last_id = the cursor and
 * follows its own cursor (the highest id of each page), not next_href: the
 * answer is a page of ids above the cursor, so resuming after a crash is the
 * same request as the next page. A page with an id at or below the cursor
 * would loop forever and is refused as unreadable.
 *
 * Exports: one medium per resource, its metadata.state 'creating' or
 * 'ready', its updated_at touched by every request and by the dump
 * finishing. Because Panoptes cancels, without a word, a dump requested
 * within a day of the last honoured one, and every honoured request or
 * finished dump is no later than updated_at, "updated_at + 24 h" is a time
 * after which a request is surely honoured; it is read from Panoptes' own
 * answer (plus a margin for the clocks), and requestExport sends nothing
 * before it. The request itself is safe to retry: a repeat Panoptes cancels
 * changes nothing the first one did not.
 *
 * The token must carry the 'classification' scope (the listing) and
 * 'project' (exports); RESULTS_SCOPE is the default when this adapter makes
 * its own transport.
 */

export const RESULTS_SCOPE = 'public user project classification';
const DAY_MS = 24 * 60 * 60_000;

export interface ClassificationSourceOptions {
  /** Added to updated_at + 24 h before a new export is requested (clock skew; default 10 min). */
  exportWindowMarginMs?: number;
  /** How the export's signed link is followed (https only and no private address by default). */
  download?: ExportDownloadOptions;
}

const MediumJson = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  src: z.string().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().min(1),
  metadata: z.object({ state: z.string().nullish() }).partial().nullish(),
});
type Medium = z.infer<typeof MediumJson>;

// Only the id is needed; everything else is read if present (a missing field never fails the pull).
const WorkflowJson = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  display_name: z.unknown().optional(),
  version: z.unknown().optional(),
  tasks: z.unknown().optional(),
  links: z.unknown().optional(),
});

export class PanoptesClassificationSource implements ClassificationSource {
  private readonly http: PanoptesTransport;
  private readonly margin: number;
  private readonly download: ExportDownloadOptions;

  constructor(http: PanoptesTransport | PanoptesTransportOptions, opts: ClassificationSourceOptions = {}) {
    this.http = http instanceof PanoptesTransport ? http : new PanoptesTransport({ ...http, scope: http.scope ?? RESULTS_SCOPE });
    this.margin = opts.exportWindowMarginMs ?? 10 * 60_000;
    this.download = opts.download ?? {};
  }

  async *pullSince(projectId: string, lastId: string | null, opts: PullOptions = {}): AsyncGenerator<ClassificationPage> {
    const project = idPart(projectId, 'project');
    let cursor = lastId === null ? '0' : idPart(lastId, 'classification');
    const size = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_PAGE_SIZE));
    for (let pages = 0; opts.maxPages === undefined || pages < opts.maxPages; pages++) {
      const a = await this.http.send({
        method: 'GET',
        path: '/classifications/project',
        query: { project_id: project, last_id: cursor, page_size: String(size) },
        what: `listing the classifications of project ${project} after ${cursor}`,
      });
      const list = z.array(ClassificationJson).safeParse((a.body as Record<string, unknown> | null)?.classifications);
      if (!list.success) throw new PanoptesUnreadable(`Panoptes (${this.http.host}) sent a classifications listing this client cannot read: ${z.prettifyError(list.error)}`);
      // An empty page is the end: next_href is there on every non-empty page, so it cannot say so.
      if (list.data.length === 0) return;
      const classifications = list.data.map(toRawClassification).sort((x, y) => compareIds(x.id, y.id));
      if (compareIds(classifications[0].id, cursor) <= 0) {
        throw new PanoptesUnreadable(`Panoptes (${this.http.host}) answered classification ${classifications[0].id} when asked for those after ${cursor}.`);
      }
      cursor = classifications[classifications.length - 1].id;
      yield { classifications, cursor };
    }
  }

  async workflow(workflowId: string): Promise<WorkflowDefinition | undefined> {
    const id = idPart(workflowId, 'workflow');
    let a;
    try {
      a = await this.http.send({ method: 'GET', path: `/workflows/${id}`, what: `reading workflow ${id}` });
    } catch (e) {
      if (e instanceof PanoptesNotFound) return undefined;
      throw e;
    }
    const w = this.http.one(a, 'workflows', WorkflowJson);
    const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);
    const tasks = w.tasks && typeof w.tasks === 'object' && !Array.isArray(w.tasks) ? (w.tasks as Record<string, unknown>) : {};
    const project = w.links && typeof w.links === 'object' ? text((w.links as Record<string, unknown>).project) : null;
    return { id: w.id, projectId: project, version: text(w.version), displayName: text(w.display_name), tasks };
  }

  async requestExport(resource: ExportResource, opts: { notOlderThan?: string } = {}): Promise<ExportRequest> {
    const current = await this.readMedium(resource);
    if (current) {
      const at = current.updated_at;
      const nextPossibleAt = this.after(at);
      const ready = stateOf(current) === 'ready';
      if (ready && opts.notOlderThan !== undefined && Date.parse(at) >= Date.parse(opts.notOlderThan)) return { state: 'ready', readyAt: at, nextPossibleAt };
      if (this.http.now() < Date.parse(nextPossibleAt)) {
        // A request now would be accepted and cancelled, and would hide the ready export behind 'creating'.
        return ready ? { state: 'rate_limited', readyAt: at, nextPossibleAt } : { state: 'creating', requestedAt: at, nextPossibleAt };
      }
    }
    const { kind, id } = this.route(resource);
    const a = await this.http.send({
      method: 'POST',
      path: `/${kind}/${id}/classifications_export`,
      body: { media: { content_type: 'text/csv' } },
      what: `requesting a classification export of ${resource.kind} ${id}`,
    });
    const medium = this.http.one(a, 'media', MediumJson);
    return { state: 'requested', requestedAt: medium.updated_at, nextPossibleAt: this.after(medium.updated_at) };
  }

  async exportStatus(resource: ExportResource): Promise<ExportStatus> {
    const m = await this.readMedium(resource);
    if (!m) return { state: 'none', updatedAt: null, nextPossibleAt: new Date(this.http.now()).toISOString() };
    return { state: stateOf(m), updatedAt: m.updated_at, nextPossibleAt: this.after(m.updated_at) };
  }

  async openExport(resource: ExportResource): Promise<ExportStream> {
    // The link is short-lived: an expired one (403 from storage) earns one fresh read of the medium.
    for (let attempt = 1; ; attempt++) {
      const m = await this.readMedium(resource);
      if (!m || stateOf(m) !== 'ready') {
        throw new ExportNotReadyError(`The classification export of ${resource.kind} ${resource.id} is ${m ? 'still being created' : 'not requested yet'}.`);
      }
      if (!m.src) throw new PanoptesUnreadable(`Panoptes (${this.http.host}) shows a ready export of ${resource.kind} ${resource.id} without a link to it.`);
      try {
        const chunks = await downloadExport(m.src, this.download);
        return { updatedAt: m.updated_at, [Symbol.asyncIterator]: () => chunks[Symbol.asyncIterator]() };
      } catch (e) {
        if (!(e instanceof ExportLinkRefused)) throw e;
        if (attempt >= 2) throw new UpstreamError(`The export of ${resource.kind} ${resource.id} could not be downloaded: its storage refused a freshly issued link (${e.message}).`);
      }
    }
  }

  /** The resource's export medium, or undefined when none was ever requested. */
  private async readMedium(resource: ExportResource): Promise<Medium | undefined> {
    const { kind, id } = this.route(resource);
    try {
      const a = await this.http.send({ method: 'GET', path: `/${kind}/${id}/classifications_export`, what: `reading the classification export of ${resource.kind} ${id}` });
      return this.http.one(a, 'media', MediumJson);
    } catch (e) {
      // Panoptes answers 404 both for "no export yet" and for a resource the account cannot see; the POST tells them apart.
      if (e instanceof PanoptesNotFound) return undefined;
      throw e;
    }
  }

  private route(resource: ExportResource): { kind: 'projects' | 'workflows'; id: string } {
    return { kind: resource.kind === 'project' ? 'projects' : 'workflows', id: idPart(resource.id, resource.kind) };
  }

  private after(updatedAt: string): string {
    const t = Date.parse(updatedAt);
    if (!Number.isFinite(t)) throw new PanoptesUnreadable(`Panoptes (${this.http.host}) sent an export with an unreadable updated_at.`);
    return new Date(t + DAY_MS + this.margin).toISOString();
  }
}

/** 'ready' only when Panoptes says so; anything else (absent, unknown) is not ready yet. */
function stateOf(m: Medium): 'creating' | 'ready' {
  return m.metadata?.state === 'ready' ? 'ready' : 'creating';
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
