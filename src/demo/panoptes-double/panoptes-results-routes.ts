import type { DoubleTask, ExportRowInput } from './panoptes-export-csv.js';
import { ExportsDouble, type ExportsOptions } from './panoptes-results-exports.js';
import { Refusal, jsonBody, noCountMeta, pageOf, requireScope, type ResultsReply, type ResultsRequest } from './panoptes-results-http.js';

export type { ResultsReply, ResultsRequest } from './panoptes-results-http.js';

/*
 * The results side of the demo Panoptes server (panoptes-server.ts routes
 * these here) and its seeding methods, which `bridge demo` and the tests use.
 * Longer than 400 lines because the seeding, the introspection and the
 * routes share one store of workflows, classifications and statuses. Held
 * to shared/reference/results.md and, where it is silent, to the
 * Panoptes source (zooniverse/panoptes, 2026):
 * - GET /api/classifications/project (ClassificationsController#project):
 *   scope 'classification'; last_id without project_id: 422; projects the
 *   account may not update give an EMPTY listing (the policy scope filters,
 *   it does not refuse); ids above last_id in id order; NoCountSerializer
 *   meta (count 0, a next page after every non-empty page), next_href
 *   rewritten to last_id=<highest id of the page>; each classification has
 *   id, annotations (stored form), created_at, updated_at, metadata (+
 *   workflow_version), href, links project/user/user_group/workflow/subjects:
 *   no user_ip, login or gold-standard flag.
 * - Exports: panoptes-results-exports.ts.
 * - POST /api/workflows/ID/retired_subjects (scope 'project'): subject_id
 *   and/or subject_ids, retirement_reason in the enum ('blank' stored as
 *   nothing_here, else 422); 204 without a body; unknown subjects skipped;
 *   the first reason kept. Panoptes applies it in a background job: here
 *   before the 204, or after `retireDelayMs` when that is set.
 * - GET /api/subject_workflow_statuses?workflow_id=&subject_id= (comma
 *   lists): classifications_count, retired_at, retirement_reason.
 * Stats: retireRequestsFor / linkRequestsFor count the requests that named a
 * subject (two mean an effect was sent twice).
 */

export type ResultsRoute = 'getWorkflow' | 'listProjectClassifications' | 'createClassificationsExport' | 'getClassificationsExport' | 'downloadExport' | 'retireSubjects' | 'listSubjectWorkflowStatuses';

export const RESULTS_ROUTES: { method: string; pattern: RegExp; route: ResultsRoute }[] = [
  { method: 'GET', pattern: /^\/api\/classifications\/project$/, route: 'listProjectClassifications' },
  { method: 'GET', pattern: /^\/api\/workflows\/([^/]+)$/, route: 'getWorkflow' },
  { method: 'POST', pattern: /^\/api\/(projects|workflows)\/([^/]+)\/classifications_export$/, route: 'createClassificationsExport' },
  { method: 'GET', pattern: /^\/api\/(projects|workflows)\/([^/]+)\/classifications_export$/, route: 'getClassificationsExport' },
  { method: 'GET', pattern: /^\/exports\/([^/]+)\/([^/]+)$/, route: 'downloadExport' },
  { method: 'POST', pattern: /^\/api\/workflows\/([^/]+)\/retired_subjects$/, route: 'retireSubjects' },
  { method: 'GET', pattern: /^\/api\/subject_workflow_statuses$/, route: 'listSubjectWorkflowStatuses' },
];

export const isResultsRoute = (route: string): route is ResultsRoute => RESULTS_ROUTES.some((r) => r.route === route);

export interface PanoptesResultsOptions extends ExportsOptions {
  /** The clock of exports, retirements and classifications (default Date.now); settable later as `results.now`. */
  now?: () => number;
  /** Delay of the retirement job (default 0: applied before the 204). */
  retireDelayMs?: number;
}

/** What the server lends: its subjects, projects and account. */
export interface ResultsHost {
  readonly url: string;
  readonly userId: string;
  projectExists(id: string): boolean;
  /** A live subject's project and metadata. */
  subject(id: string): { projectId: string; metadata: Record<string, unknown> } | undefined;
}

export interface SeedClassification {
  projectId?: string;
  workflowId: string;
  workflowVersion?: string;
  /** Null or absent: anonymous. */
  user?: { id: string; login: string } | null;
  userIp?: string;
  createdAt?: string;
  subjectIds: string[];
  annotations: unknown[];
  metadata?: Record<string, unknown>;
  goldStandard?: boolean;
  expert?: 'expert' | 'owner';
}

export interface DoubleClassification {
  id: string;
  projectId: string;
  workflowId: string;
  workflowVersion: string;
  userId: string | null;
  userLogin: string | null;
  userIp: string;
  createdAt: string;
  updatedAt: string;
  subjectIds: string[];
  annotations: unknown[];
  metadata: Record<string, unknown>;
  goldStandard: boolean | null;
  expert: 'expert' | 'owner' | null;
}

export interface DoubleWorkflow {
  id: string;
  projectId: string;
  displayName: string;
  version: string;
  tasks: Record<string, DoubleTask>;
}

export interface DoubleSubjectWorkflowStatus {
  id: string;
  workflowId: string;
  subjectId: string;
  classificationsCount: number;
  retiredAt: string | null;
  retirementReason: string | null;
  createdAt: string;
  updatedAt: string;
}

const REASONS = new Set(['classification_count', 'flagged', 'nothing_here', 'consensus', 'other', 'human']);

export class PanoptesResults {
  now: () => number;
  retireDelayMs: number;
  readonly exports: ExportsDouble;

  private readonly workflows = new Map<string, DoubleWorkflow>();
  private readonly classifications: DoubleClassification[] = [];
  private readonly statuses = new Map<string, DoubleSubjectWorkflowStatus>();
  private readonly denied = new Set<string>();
  private readonly retireRequests = new Map<string, number>();
  private readonly linkRequests = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextClassificationId = 5000;
  private nextStatusId = 1;

  constructor(
    private readonly host: ResultsHost,
    opts: PanoptesResultsOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.retireDelayMs = opts.retireDelayMs ?? 0;
    this.exports = new ExportsDouble(
      {
        url: host.url,
        userId: host.userId,
        now: () => this.now(),
        updatableProject: (kind, id) => {
          const projectId = kind === 'projects' ? id : this.workflows.get(id)?.projectId;
          return projectId !== undefined && this.mayUpdate(projectId) ? projectId : undefined;
        },
        dumpRows: (kind, id) => this.dumpRows(kind, id),
      },
      opts,
    );
  }

  close(): void {
    this.timers.forEach(clearTimeout);
  }

  // ------------------------------------------------------------ seeding and introspection

  addWorkflow(w: { id: string; projectId?: string; displayName?: string; version?: string; tasks?: Record<string, DoubleTask> }): DoubleWorkflow {
    const wf: DoubleWorkflow = { id: w.id, projectId: w.projectId ?? '1', displayName: w.displayName ?? `Workflow ${w.id}`, version: w.version ?? '1.1', tasks: w.tasks ?? {} };
    if (!this.host.projectExists(wf.projectId)) throw new Error(`no project ${wf.projectId}`);
    this.workflows.set(wf.id, wf);
    return wf;
  }

  /** Stored with increasing ids, as volunteers made them; an unknown workflow is added to the project. */
  addClassifications(list: SeedClassification[]): DoubleClassification[] {
    return list.map((c) => {
      const wf = this.workflows.get(c.workflowId) ?? this.addWorkflow({ id: c.workflowId, projectId: c.projectId });
      const at = c.createdAt ?? new Date(this.now()).toISOString();
      const rec: DoubleClassification = {
        id: String(this.nextClassificationId++),
        projectId: wf.projectId,
        workflowId: wf.id,
        workflowVersion: c.workflowVersion ?? wf.version,
        userId: c.user?.id ?? null,
        userLogin: c.user?.login ?? null,
        userIp: c.userIp ?? '203.0.113.7',
        createdAt: at,
        updatedAt: at,
        subjectIds: [...c.subjectIds],
        annotations: structuredClone(c.annotations),
        metadata: { ...(c.metadata ?? {}) },
        goldStandard: c.goldStandard ?? null,
        expert: c.expert ?? null,
      };
      this.classifications.push(rec);
      for (const s of rec.subjectIds) this.status(wf.id, s).classificationsCount++;
      return rec;
    });
  }

  /** The account is not (or no longer) owner or collaborator of the project. */
  denyProject = (id: string): void => void this.denied.add(id);

  /** Subject id -> its retirement in the workflow, for the retired subjects only. */
  retired(workflowId: string): Map<string, { reason: string | null; retiredAt: string }> {
    const out = new Map<string, { reason: string | null; retiredAt: string }>();
    for (const s of this.statuses.values()) if (s.workflowId === workflowId && s.retiredAt) out.set(s.subjectId, { reason: s.retirementReason, retiredAt: s.retiredAt });
    return out;
  }

  /** How many retire requests named the subject in the workflow. */
  retireRequestsFor(workflowId: string, subjectId: string): number {
    return this.retireRequests.get(`${workflowId}/${subjectId}`) ?? 0;
  }

  /** How many link requests to the set named the subject (called by the server's link route). */
  linkRequestsFor(setId: string, subjectId: string): number {
    return this.linkRequests.get(`${setId}/${subjectId}`) ?? 0;
  }

  noteLinkRequest(setId: string, subjectIds: string[]): void {
    for (const s of subjectIds) this.linkRequests.set(`${setId}/${s}`, this.linkRequestsFor(setId, s) + 1);
  }

  // ------------------------------------------------------------ serving

  api(route: ResultsRoute, req: ResultsRequest): ResultsReply {
    try {
      switch (route) {
        case 'listProjectClassifications':
          return this.listClassifications(req);
        case 'getWorkflow':
          return this.showWorkflow(req);
        case 'createClassificationsExport':
          return this.exports.create(req);
        case 'getClassificationsExport':
          return this.exports.show(req);
        case 'retireSubjects':
          return this.retire(req);
        case 'listSubjectWorkflowStatuses':
          return this.listStatuses(req);
        case 'downloadExport':
          return this.exports.download(req);
      }
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return { status: e.status, body: { errors: [{ message: e.message }] } };
    }
  }

  private mayUpdate(projectId: string): boolean {
    return this.host.projectExists(projectId) && !this.denied.has(projectId);
  }

  /** GET /api/workflows/ID: the workflow with its tasks (WorkflowSerializer; version as "major.minor"). */
  private showWorkflow(req: ResultsRequest): ResultsReply {
    const [id] = req.params;
    const wf = this.workflows.get(id);
    if (!wf || !this.host.projectExists(wf.projectId)) throw new Refusal(404, `Could not find workflow with id='${id}'`);
    return {
      status: 200,
      body: {
        workflows: [{ id: wf.id, display_name: wf.displayName, version: wf.version, tasks: structuredClone(wf.tasks), first_task: Object.keys(wf.tasks)[0] ?? '', href: `/workflows/${wf.id}`, links: { project: wf.projectId } }],
        links: {},
        meta: {},
      },
    };
  }

  private listClassifications(req: ResultsRequest): ResultsReply {
    requireScope(req, 'classification');
    const q = req.url.searchParams;
    const lastId = q.get('last_id');
    const projectId = q.get('project_id');
    if (lastId && !projectId) throw new Refusal(422, 'Project ID required if last_id is included');
    let rows = this.classifications.filter((c) => this.mayUpdate(c.projectId));
    if (projectId) rows = rows.filter((c) => c.projectId === projectId);
    if (lastId) rows = rows.filter((c) => Number(c.id) > Number(lastId));
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    const { page, size, slice } = pageOf(q, rows);
    const params: Record<string, string> = {};
    for (const k of ['last_id', 'page_size', 'project_id']) if (q.get(k)) params[k] = q.get(k)!;
    const href = (p: number | null, last?: string) => {
      if (p === null) return null;
      const all: Record<string, string> = last === undefined ? { ...params, page: String(p) } : { ...params, last_id: last };
      return `/classifications/project?${Object.keys(all).sort().map((k) => `${k}=${encodeURIComponent(all[k])}`).join('&')}`;
    };
    const meta = noCountMeta(page, size, slice.length > 0, (p) => href(p));
    if (lastId) {
      // ClassificationSerializer.add_last_id_paging_hrefs: resume after the page's highest id, not by offset.
      if (meta.next_href) meta.next_href = href(1, String(Math.max(...slice.map((c) => Number(c.id)))));
      if (meta.previous_href) meta.previous_href = href(1, lastId);
    }
    return {
      status: 200,
      body: {
        classifications: slice.map(classificationJson),
        links: {
          'classifications.project': { href: '/projects/{classifications.project}', type: 'projects' },
          'classifications.user': { href: '/users/{classifications.user}', type: 'users' },
          'classifications.user_group': { href: '/user_groups/{classifications.user_group}', type: 'user_groups' },
          'classifications.workflow': { href: '/workflows/{classifications.workflow}', type: 'workflows' },
          'classifications.subjects': { href: '/subjects/{classifications.subjects}', type: 'subjects' },
        },
        meta: { classifications: meta },
      },
    };
  }

  /** The project or workflow an export route names, if the account may update it; else 404 as Panoptes answers. */

  private retire(req: ResultsRequest): ResultsReply {
    requireScope(req, 'project');
    const [workflowId] = req.params;
    const wf = this.workflows.get(workflowId);
    if (!wf || !this.mayUpdate(wf.projectId)) throw new Refusal(404, `Could not find workflow with id='${workflowId}'`);
    const body = jsonBody(req);
    // ActiveInteraction integer filters: integers or integer strings, else the interaction is invalid (422).
    const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v.trim()));
    if (body.subject_id !== undefined && body.subject_id !== null && !int(body.subject_id)) throw new Refusal(422, 'Subject is not a valid integer');
    if (body.subject_ids !== undefined && (!Array.isArray(body.subject_ids) || !body.subject_ids.every(int))) throw new Refusal(422, 'Subject ids has an invalid nested value');
    let reason = body.retirement_reason ?? null;
    if (reason === 'blank') reason = 'nothing_here';
    if (reason !== null && (typeof reason !== 'string' || !REASONS.has(reason))) throw new Refusal(422, 'Retirement reason is not included in the list');
    const ids = [...new Set([...((body.subject_ids as unknown[] | undefined) ?? []), ...(body.subject_id != null ? [body.subject_id] : [])].map((v) => String(v).trim()))];
    for (const s of ids) this.retireRequests.set(`${workflowId}/${s}`, this.retireRequestsFor(workflowId, s) + 1);
    const apply = () => {
      for (const s of ids) {
        if (!this.host.subject(s)) continue; // RetireSubjectWorker rescues RecordInvalid: unknown ids are skipped
        const st = this.status(workflowId, s);
        if (st.retiredAt) continue; // retire! keeps the first retirement
        st.retiredAt = new Date(this.now()).toISOString();
        st.retirementReason = reason as string | null;
        st.updatedAt = st.retiredAt;
      }
    };
    if (this.retireDelayMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        apply();
      }, this.retireDelayMs);
      this.timers.add(t);
    } else apply();
    return { status: 204 };
  }

  private listStatuses(req: ResultsRequest): ResultsReply {
    const q = req.url.searchParams;
    const list = (k: string) => q.get(k)?.split(',').map((s) => s.trim()).filter(Boolean);
    const workflows = list('workflow_id');
    const subjects = list('subject_id');
    let rows = [...this.statuses.values()].filter((s) => {
      const wf = this.workflows.get(s.workflowId);
      return wf !== undefined && this.mayUpdate(wf.projectId);
    });
    if (workflows) rows = rows.filter((s) => workflows.includes(s.workflowId));
    if (subjects) rows = rows.filter((s) => subjects.includes(s.subjectId));
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    const { page, size, slice } = pageOf(q, rows);
    const href = (p: number | null) => {
      if (p === null) return null;
      const parts = [`page=${p}`, ...['page_size', 'subject_id', 'workflow_id'].filter((k) => q.get(k)).map((k) => `${k}=${encodeURIComponent(q.get(k)!)}`)];
      return `/subject_workflow_statuses?${parts.join('&')}`;
    };
    return {
      status: 200,
      body: {
        subject_workflow_statuses: slice.map((s) => ({ ...statusRecordJson(s), href: `/subject_workflow_statuses/${s.id}`, links: { subject: s.subjectId, workflow: s.workflowId } })),
        links: {},
        meta: { subject_workflow_statuses: noCountMeta(page, size, slice.length > 0, href) },
      },
    };
  }

  /** The export's rows: every classification of the project or workflow, with its subjects' retirement and metadata now. */
  private dumpRows(kind: 'projects' | 'workflows', id: string): ExportRowInput[] {
    return this.classifications
      .filter((c) => (kind === 'projects' ? c.projectId === id : c.workflowId === id))
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((c) => {
        const wf = this.workflows.get(c.workflowId)!;
        const subjects: ExportRowInput['subjects'] = {};
        for (const s of c.subjectIds) {
          const st = this.statuses.get(`${c.workflowId}/${s}`);
          subjects[s] = { retired: st?.retiredAt ? statusRecord(st) : null, metadata: this.host.subject(s)?.metadata ?? {} };
        }
        return { ...c, workflowName: wf.displayName, tasks: wf.tasks, subjects };
      });
  }

  private status(workflowId: string, subjectId: string): DoubleSubjectWorkflowStatus {
    const key = `${workflowId}/${subjectId}`;
    let st = this.statuses.get(key);
    if (!st) {
      const at = new Date(this.now()).toISOString();
      st = { id: String(this.nextStatusId++), workflowId, subjectId, classificationsCount: 0, retiredAt: null, retirementReason: null, createdAt: at, updatedAt: at };
      this.statuses.set(key, st);
    }
    return st;
  }
}

// ------------------------------------------------------------ helpers

function classificationJson(c: DoubleClassification): unknown {
  return {
    id: c.id,
    annotations: c.annotations,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    // ClassificationSerializer#metadata merges the stored workflow_version back in.
    metadata: { ...c.metadata, workflow_version: c.workflowVersion },
    href: `/classifications/${c.id}`,
    links: { project: c.projectId, user: c.userId, user_group: null, workflow: c.workflowId, subjects: c.subjectIds },
  };
}

function statusRecordJson(s: DoubleSubjectWorkflowStatus): Record<string, unknown> {
  return { id: s.id, classifications_count: s.classificationsCount, retired_at: s.retiredAt, retirement_reason: s.retirementReason, created_at: s.createdAt, updated_at: s.updatedAt };
}

/** The status record as the dump's subject_data shows it (the model's to_json). */
function statusRecord(s: DoubleSubjectWorkflowStatus): unknown {
  return { ...statusRecordJson(s), subject_id: Number(s.subjectId), workflow_id: Number(s.workflowId) };
}
