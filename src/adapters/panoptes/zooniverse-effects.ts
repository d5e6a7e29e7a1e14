import { z } from 'zod';

import { ValidationError } from '../../domain/errors.js';
import { AmbiguousRequestError } from '../../domain/ports/panoptes-client.js';
import { RETIREMENT_REASONS, isRetirementRequest, type RetirementReason, type RetirementRequest, type SubjectRetirement, type ZooniverseEffects } from '../../domain/ports/zooniverse-effects.js';
import { MAX_PAGE_SIZE, PanoptesTransport, chunk, idPart, type PanoptesTransportOptions } from './panoptes-transport.js';
import { RESULTS_SCOPE } from './classification-source.js';

/*
 * ZooniverseEffects over Panoptes' API (shared/reference/results.md):
 * - retire: POST /workflows/ID/retired_subjects {subject_ids, retirement_reason},
 *   204 without a body, applied by a background job shortly after;
 * - add to a set: POST /subject_sets/ID/links/subjects {subjects}, 422 if an
 *   id is not a subject;
 * - read back: GET /subject_workflow_statuses?workflow_id=W&subject_id=a,b
 *   (retired_at, retirement_reason; visible to the project's collaborators)
 *   and GET /subjects?subject_set_id=S&id=a,b (membership);
 * - undo an addition: DELETE /subject_sets/ID/links/subjects/a,b (If-Match).
 *
 * Both effects are sent as `creates` through the shared request path, so a
 * request whose outcome is unknown is not resent here: it surfaces as
 * AmbiguousRequestError carrying the ids in doubt (detail.uncertain) and
 * those of earlier chunks that went through (detail.applied), and the
 * caller reads back before sending the rest again (the port says why).
 * Requests Panoptes certainly refused before acting (429, 503, 409, no
 * connection) are retried as usual.
 *
 * Strict in what is sent: a reason outside Panoptes' list is refused here,
 * before any request ('blank' is sent as nothing_here, which is what
 * Panoptes would store), and ids must be Panoptes integers.
 */

export interface ZooniverseEffectsOptions {
  /** Subjects per request (default 100, as the official client links). */
  chunkSize?: number;
}

const Id = z.union([z.string().min(1), z.number().int()]).transform(String);
const StatusJson = z.object({
  id: Id,
  classifications_count: z.number().int().nonnegative().nullish(),
  retired_at: z.string().nullish(),
  retirement_reason: z.string().nullish(),
  links: z.object({ subject: Id }),
});
const MemberJson = z.object({ id: Id });

export class PanoptesZooniverseEffects implements ZooniverseEffects {
  private readonly http: PanoptesTransport;
  private readonly chunkSize: number;

  constructor(http: PanoptesTransport | PanoptesTransportOptions, opts: ZooniverseEffectsOptions = {}) {
    this.http = http instanceof PanoptesTransport ? http : new PanoptesTransport({ ...http, scope: http.scope ?? RESULTS_SCOPE });
    this.chunkSize = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.chunkSize ?? MAX_PAGE_SIZE));
  }

  async retireSubjects(workflowId: string, subjectIds: readonly string[], reason: RetirementRequest): Promise<void> {
    if (!isRetirementRequest(reason)) throw new ValidationError(`'${String(reason)}' is not a Panoptes retirement reason (one of ${RETIREMENT_REASONS.join(', ')}, or blank)`);
    const workflow = idPart(workflowId, 'workflow');
    const ids = unique(subjectIds);
    const sent: RetirementReason = reason === 'blank' ? 'nothing_here' : reason;
    await this.inChunks(ids, (part) =>
      this.http.send({
        method: 'POST',
        path: `/workflows/${workflow}/retired_subjects`,
        body: { subject_ids: part, retirement_reason: sent },
        what: `retiring ${part.length} subjects in workflow ${workflow} (${sent})`,
        creates: 'retireSubjects',
      }),
    );
  }

  async addSubjectsToSet(setId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(setId, 'subject set');
    // Panoptes refuses (422) a request naming a subject twice.
    const ids = unique(subjectIds);
    await this.inChunks(ids, (part) =>
      this.http.send({
        method: 'POST',
        path: `/subject_sets/${set}/links/subjects`,
        body: { subjects: part },
        what: `adding ${part.length} subjects to subject set ${set}`,
        creates: 'addSubjectsToSet',
        // A 409 rolled the link back: read the set again and resend.
        onConflict: () => this.http.send({ method: 'GET', path: `/subject_sets/${set}`, what: `reading subject set ${set}` }),
      }),
    );
  }

  async removeSubjectsFromSet(setId: string, subjectIds: readonly string[]): Promise<void> {
    const set = idPart(setId, 'subject set');
    // DELETE /subject_sets/ID/links/subjects/a,b with the set's current ETag; removing twice is harmless, so it is retried as usual.
    for (const part of chunk(unique(subjectIds), this.chunkSize)) {
      await this.http.withFreshEtag(`/subject_sets/${set}`, `subject set ${set}`, (etag) =>
        this.http.send({
          method: 'DELETE',
          path: `/subject_sets/${set}/links/subjects/${part.join(',')}`,
          ifMatch: etag,
          what: `removing ${part.length} subjects from subject set ${set}`,
          onConflict: () => this.http.send({ method: 'GET', path: `/subject_sets/${set}`, what: `reading subject set ${set}` }),
        }),
      );
    }
  }

  async retirementOf(workflowId: string, subjectIds: readonly string[]): Promise<SubjectRetirement[]> {
    const workflow = idPart(workflowId, 'workflow');
    const ids = unique(subjectIds);
    const found = new Map<string, SubjectRetirement>();
    for (const part of chunk(ids, this.chunkSize)) {
      const q = { workflow_id: workflow, subject_id: part.join(',') };
      for await (const s of this.http.paginate('/subject_workflow_statuses', 'subject_workflow_statuses', q, StatusJson, `reading retirement in workflow ${workflow}`)) {
        const retired = !!s.retired_at;
        found.set(s.links.subject, {
          subjectId: s.links.subject,
          retired,
          reason: retired ? reasonOf(s.retirement_reason) : null,
          retiredAt: s.retired_at ?? null,
          classificationsCount: s.classifications_count ?? 0,
        });
      }
    }
    return ids.map((id) => found.get(id) ?? { subjectId: id, retired: false, reason: null, retiredAt: null, classificationsCount: 0 });
  }

  async setMembers(setId: string, subjectIds: readonly string[]): Promise<Set<string>> {
    const set = idPart(setId, 'subject set');
    const out = new Set<string>();
    for (const part of chunk(unique(subjectIds), this.chunkSize)) {
      const q = { subject_set_id: set, id: part.join(','), sort: 'id' };
      for await (const s of this.http.paginate('/subjects', 'subjects', q, MemberJson, `reading members of subject set ${set}`)) out.add(s.id);
    }
    return out;
  }

  /** `send` for each chunk; an ambiguous one stops the rest and says what is known. */
  private async inChunks(ids: string[], send: (part: string[]) => Promise<unknown>): Promise<void> {
    const applied: string[] = [];
    for (const part of chunk(ids, this.chunkSize)) {
      try {
        await send(part);
      } catch (e) {
        if (e instanceof AmbiguousRequestError) throw new AmbiguousRequestError(e.message, e.operation, e.retryAfterMs, { ...e.detail, uncertain: part, applied: [...applied] });
        throw e;
      }
      applied.push(...part);
    }
  }
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids.map((i) => idPart(i, 'subject')))];
}

/** Panoptes' enum as read; 'blank' from older records is what Panoptes now stores as nothing_here. */
function reasonOf(r: string | null | undefined): RetirementReason | null {
  if (r === 'blank') return 'nothing_here';
  return (RETIREMENT_REASONS as readonly string[]).includes(r ?? '') ? (r as RetirementReason) : null;
}
