import { z } from 'zod';

import { ValidationError } from '../../domain/errors.js';
import {
  PanoptesNotFound,
  type NewSubject,
  type PanoptesClient,
  type PanoptesProject,
  type PanoptesSubject,
  type PanoptesSubjectSet,
  type PanoptesSubjectSetImport,
  type PanoptesUser,
  type SubjectQuery,
} from '../../domain/ports/panoptes-client.js';
import { MAX_PAGE_SIZE, PanoptesTransport, chunk, idPart, type Answer, type PanoptesTransportOptions } from './panoptes-transport.js';

/*
 * Client of Zooniverse's Panoptes API (shared/reference/zooniverse.md) for the
 * bridge's application account: the upload side (sets, subjects, links,
 * imports). Every call goes through the one request path in
 * panoptes-transport.ts (token, retries, If-Match, ambiguity), which says
 * which failures are retried and which become AmbiguousRequestError.
 *
 * The three creates are not idempotent and Panoptes does not deduplicate, so
 * they are marked `creates`: a request whose fate is unknown is never resent
 * here; the caller reconciles (findSubjects / findSubjectSets /
 * findSubjectSetImports) first. Links are harmless to repeat and are retried.
 */

export interface PanoptesHttpClientOptions extends PanoptesTransportOptions {
  /** Subjects per link request (the official client uses 100). */
  linkChunkSize?: number;
}

// ------------------------------------------------------------ wire shapes

const Id = z.union([z.string().min(1), z.number().int()]).transform(String);
const Metadata = z.record(z.string(), z.unknown()).nullish().transform((m) => m ?? {});
const Count = z.number().int().nonnegative().nullish().transform((n) => n ?? 0);

const UserJson = z.object({ id: Id, login: z.string(), subject_limit: Count, uploaded_subjects_count: Count });
const ProjectJson = z.object({
  id: Id,
  display_name: z.string(),
  slug: z.string().nullish(),
  live: z.boolean().nullish(),
  launch_approved: z.boolean().nullish(),
});
const SubjectSetJson = z.object({
  id: Id,
  display_name: z.string(),
  metadata: Metadata,
  set_member_subjects_count: Count,
  // Absent from older Panoptes; values arrive as numbers or numeric strings (jsonb).
  completeness: z.record(z.string(), z.union([z.number(), z.string()])).nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ project: Id.nullish() }).partial().optional(),
});
const SubjectJson = z.object({
  id: Id,
  external_id: z.string().nullish(),
  locations: z.array(z.record(z.string(), z.string())).nullish(),
  metadata: Metadata,
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ project: Id.nullish(), subject_sets: z.array(Id).nullish() }).partial().optional(),
});
const ImportJson = z.object({
  id: Id,
  source_url: z.string().nullish(),
  imported_count: Count,
  // Null until Panoptes has counted the manifest's rows: not "zero rows to import".
  manifest_count: z.number().int().nonnegative().nullish().transform((n) => n ?? null),
  failed_count: Count,
  progress: z.number().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  links: z.object({ subject_set: Id.nullish() }).partial().optional(),
});

function toUser(j: z.infer<typeof UserJson>): PanoptesUser {
  return { id: j.id, login: j.login, subjectLimit: j.subject_limit, uploadedSubjectsCount: j.uploaded_subjects_count };
}
function toProject(j: z.infer<typeof ProjectJson>): PanoptesProject {
  return { id: j.id, displayName: j.display_name, slug: j.slug ?? '', live: j.live ?? false, launchApproved: j.launch_approved ?? false };
}
function toSet(j: z.infer<typeof SubjectSetJson>): PanoptesSubjectSet {
  return {
    id: j.id,
    projectId: j.links?.project ?? '',
    displayName: j.display_name,
    metadata: j.metadata,
    setMemberSubjectsCount: j.set_member_subjects_count,
    completeness: Object.fromEntries(Object.entries(j.completeness ?? {}).map(([w, v]) => [w, Number(v)]).filter(([, v]) => Number.isFinite(v))),
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}
function toSubject(j: z.infer<typeof SubjectJson>): PanoptesSubject {
  return {
    id: j.id,
    projectId: j.links?.project ?? '',
    externalId: j.external_id ?? null,
    locations: j.locations ?? [],
    metadata: j.metadata,
    subjectSetIds: j.links?.subject_sets ?? [],
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}
function toImport(j: z.infer<typeof ImportJson>): PanoptesSubjectSetImport {
  const processed = j.imported_count + j.failed_count;
  const done = j.manifest_count !== null && processed >= j.manifest_count;
  return {
    id: j.id,
    subjectSetId: j.links?.subject_set ?? '',
    sourceUrl: j.source_url ?? '',
    manifestCount: j.manifest_count,
    importedCount: j.imported_count,
    failedCount: j.failed_count,
    progress: j.progress ?? (j.manifest_count === null ? 0 : j.manifest_count === 0 ? 1 : Math.min(1, processed / j.manifest_count)),
    state: done ? 'completed' : processed === 0 ? 'pending' : 'running',
    createdAt: j.created_at ?? null,
    updatedAt: j.updated_at ?? j.created_at ?? null,
  };
}


export class PanoptesHttpClient implements PanoptesClient {
  private readonly http: PanoptesTransport;
  private readonly linkChunk: number;

  constructor(opts: PanoptesHttpClientOptions) {
    this.http = new PanoptesTransport(opts);
    this.linkChunk = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.linkChunkSize ?? 100));
  }

  // ------------------------------------------------------------ users and projects

  async me(): Promise<PanoptesUser> {
    const a = await this.http.send({ method: 'GET', path: '/me', what: 'reading the account' });
    return toUser(this.http.one(a, 'users', UserJson));
  }

  async getProject(id: string): Promise<PanoptesProject> {
    const a = await this.http.send({ method: 'GET', path: `/projects/${idPart(id, 'project')}`, what: `reading project ${id}` });
    return toProject(this.http.one(a, 'projects', ProjectJson));
  }

  // ------------------------------------------------------------ subject sets

  async createSubjectSet(input: { projectId: string; displayName: string; metadata?: Record<string, unknown> }): Promise<PanoptesSubjectSet> {
    if (!input.displayName.trim()) throw new ValidationError('a subject set needs a display name');
    const a = await this.http.send({
      method: 'POST',
      path: '/subject_sets',
      body: { subject_sets: { display_name: input.displayName, metadata: input.metadata ?? {}, links: { project: idPart(input.projectId, 'project') } } },
      what: `creating subject set '${input.displayName}'`,
      creates: 'createSubjectSet',
    });
    return toSet(this.http.one(a, 'subject_sets', SubjectSetJson));
  }

  async getSubjectSet(id: string): Promise<PanoptesSubjectSet> {
    return toSet(this.http.one(await this.readSet(id), 'subject_sets', SubjectSetJson));
  }

  async findSubjectSets(query: { projectId: string; displayName?: string }): Promise<PanoptesSubjectSet[]> {
    const out: PanoptesSubjectSet[] = [];
    const q = { project_id: idPart(query.projectId, 'project'), display_name: query.displayName, sort: 'id' };
    for await (const j of this.http.paginate('/subject_sets', 'subject_sets', q, SubjectSetJson, 'listing subject sets')) out.push(toSet(j));
    return out;
  }

  // ------------------------------------------------------------ subjects

  async createSubject(input: NewSubject): Promise<PanoptesSubject> {
    if (input.locations.length === 0) throw new ValidationError('a subject needs at least one location');
    for (const loc of input.locations) {
      const keys = Object.keys(loc);
      if (keys.length !== 1 || typeof loc[keys[0]] !== 'string') throw new ValidationError('each subject location maps exactly one mime type to one URL');
    }
    const links: Record<string, unknown> = { project: idPart(input.projectId, 'project') };
    if (input.subjectSetIds?.length) links.subject_sets = input.subjectSetIds.map((s) => idPart(s, 'subject set'));
    const subject: Record<string, unknown> = { locations: input.locations, metadata: input.metadata, links };
    if (input.externalId !== undefined) subject.external_id = input.externalId;
    const a = await this.http.send({
      method: 'POST',
      path: '/subjects',
      body: { subjects: subject },
      what: input.externalId !== undefined ? `creating subject '${input.externalId}'` : 'creating a subject',
      creates: 'createSubject',
    });
    return toSubject(this.http.one(a, 'subjects', SubjectJson));
  }

  async getSubject(id: string): Promise<PanoptesSubject> {
    const a = await this.http.send({ method: 'GET', path: `/subjects/${idPart(id, 'subject')}`, what: `reading subject ${id}` });
    return toSubject(this.http.one(a, 'subjects', SubjectJson));
  }

  async *findSubjects(query: SubjectQuery): AsyncIterable<PanoptesSubject> {
    if (!query.subjectSetId && !query.projectId && !query.ids?.length) {
      throw new ValidationError('findSubjects needs a subject set, a project or subject ids: Panoptes cannot filter on anything else');
    }
    const wanted = query.externalIds ? new Set(query.externalIds) : undefined;
    if (wanted?.size === 0) return;
    const meta = query.metadata ? Object.entries(query.metadata) : [];
    const base = {
      subject_set_id: query.subjectSetId === undefined ? undefined : idPart(query.subjectSetId, 'subject set'),
      project_id: query.projectId === undefined ? undefined : idPart(query.projectId, 'project'),
      sort: 'id',
    };
    // The id filter goes in the URL: keep each listing's URL short.
    const idChunks = query.ids?.length ? chunk([...new Set(query.ids.map((i) => idPart(i, 'subject')))], MAX_PAGE_SIZE) : [undefined];
    for (const ids of idChunks) {
      for await (const j of this.http.paginate('/subjects', 'subjects', { ...base, id: ids?.join(',') }, SubjectJson, 'listing subjects')) {
        const s = toSubject(j);
        if (wanted && (s.externalId === null || !wanted.has(s.externalId))) continue;
        if (meta.some(([k, v]) => !(k in s.metadata) || String(s.metadata[k]) !== String(v))) continue;
        yield s;
      }
    }
  }

  async linkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(subjectSetId, 'subject set');
    // A repeated id in one request is refused (422) by Panoptes' count check.
    const ids = [...new Set(subjectIds.map((i) => idPart(i, 'subject')))];
    for (const part of chunk(ids, this.linkChunk)) {
      await this.http.send({
        method: 'POST',
        path: `/subject_sets/${set}/links/subjects`,
        body: { subjects: part },
        what: `linking ${part.length} subjects to subject set ${set}`,
        onConflict: () => this.readSet(set),
      });
    }
  }

  async unlinkSubjects(subjectSetId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(subjectSetId, 'subject set');
    const ids = [...new Set(subjectIds.map((i) => idPart(i, 'subject')))];
    for (const part of chunk(ids, this.linkChunk)) {
      await this.http.withFreshEtag(`/subject_sets/${set}`, `subject set ${set}`, (etag) =>
        this.http.send({
          method: 'DELETE',
          path: `/subject_sets/${set}/links/subjects/${part.join(',')}`,
          ifMatch: etag,
          what: `unlinking ${part.length} subjects from subject set ${set}`,
          onConflict: () => this.readSet(set),
        }),
      );
    }
  }

  async deleteSubject(id: string): Promise<'deleted' | 'absent'> {
    const sid = idPart(id, 'subject');
    try {
      await this.http.withFreshEtag(`/subjects/${sid}`, `subject ${sid}`, async (etag) => {
        try {
          await this.http.send({ method: 'DELETE', path: `/subjects/${sid}`, ifMatch: etag, what: `deleting subject ${sid}` });
        } catch (e) {
          // It was there a moment ago: an earlier attempt of ours that lost its answer took it.
          if (e instanceof PanoptesNotFound) return;
          throw e;
        }
      });
      return 'deleted';
    } catch (e) {
      if (e instanceof PanoptesNotFound) return 'absent';
      throw e;
    }
  }

  // ------------------------------------------------------------ imports

  async createSubjectSetImport(input: { subjectSetId: string; sourceUrl: string }): Promise<PanoptesSubjectSetImport> {
    let url: URL;
    try {
      url = new URL(input.sourceUrl);
    } catch {
      throw new ValidationError('the manifest URL is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('Panoptes can only fetch a manifest over http(s)');
    const set = idPart(input.subjectSetId, 'subject set');
    const a = await this.http.send({
      method: 'POST',
      path: '/subject_set_imports',
      body: { subject_set_imports: { source_url: input.sourceUrl, links: { subject_set: set } } },
      what: `starting an import into subject set ${set}`,
      creates: 'createSubjectSetImport',
    });
    return toImport(this.http.one(a, 'subject_set_imports', ImportJson));
  }

  async getSubjectSetImport(id: string): Promise<PanoptesSubjectSetImport> {
    const a = await this.http.send({ method: 'GET', path: `/subject_set_imports/${idPart(id, 'import')}`, what: `reading import ${id}` });
    return toImport(this.http.one(a, 'subject_set_imports', ImportJson));
  }

  async findSubjectSetImports(query: { subjectSetId: string }): Promise<PanoptesSubjectSetImport[]> {
    const out: PanoptesSubjectSetImport[] = [];
    const q = { subject_set_id: idPart(query.subjectSetId, 'subject set'), sort: 'id' };
    for await (const j of this.http.paginate('/subject_set_imports', 'subject_set_imports', q, ImportJson, 'listing imports')) out.push(toImport(j));
    return out;
  }

  private readSet(id: string): Promise<Answer> {
    return this.http.send({ method: 'GET', path: `/subject_sets/${id}`, what: `reading subject set ${id}` });
  }
}
