/*
 * What the results loop does on Zooniverse (retire a subject in a workflow,
 * add subjects to a set, e.g. an expert set) and how it reads back what was
 * done, without HTTP. The wire facts are shared/reference/results.md; the
 * adapter is src/adapters/panoptes/zooniverse-effects.ts.
 *
 * A port of its own rather than more methods on PanoptesClient: that port
 * serves the upload side and its consumers (upload, reconcile, verify); this
 * one serves the results loop, needs other rights (project scope on the
 * PI's project, as a collaborator) and is faked on its own in domain tests.
 *
 * Each effect is applied once: the results loop records it in its ledger and
 * must not record or send it twice. Panoptes would tolerate a repeat (an
 * already retired subject keeps its first reason, re-linking is harmless),
 * but a repeat after an unknown outcome hides whether the first one worked
 * and can change what is recorded (a reason that is not the one kept). So,
 * like the creates of PanoptesClient, both effects are not resent when
 * their outcome is unknown (a timeout, a connection lost after sending,
 * 500/502/504): they throw AmbiguousRequestError (operation 'retireSubjects'
 * or 'addSubjectsToSet', detail.uncertain = the ids of the request in doubt,
 * detail.applied = those of earlier chunks that succeeded) and the caller
 * reads Panoptes with retirementOf / setMembers before it sends the rest.
 *
 * Retirement is applied by a Panoptes background job shortly after the 204,
 * so a subject read back as not retired just after an ambiguous retire may
 * still be on its way: read again after a short wait before sending it
 * again (sending it again is then harmless: the first reason is kept).
 * Retirement cannot be undone through the API.
 */

/** Panoptes' retirement reasons (SubjectWorkflowStatus.retirement_reason). */
export const RETIREMENT_REASONS = ['classification_count', 'flagged', 'nothing_here', 'consensus', 'other', 'human'] as const;
export type RetirementReason = (typeof RETIREMENT_REASONS)[number];
/** What a caller may ask for: Caesar's 'blank' is stored by Panoptes as nothing_here, and sent as that. */
export type RetirementRequest = RetirementReason | 'blank';

export function isRetirementRequest(x: unknown): x is RetirementRequest {
  return x === 'blank' || (RETIREMENT_REASONS as readonly unknown[]).includes(x);
}

/** One subject's state in one workflow, as Panoptes shows it. */
export interface SubjectRetirement {
  subjectId: string;
  retired: boolean;
  /** Null when not retired, or retired without a reason. */
  reason: RetirementReason | null;
  retiredAt: string | null;
  /** Classifications counted for the subject in the workflow; 0 when Panoptes has no status for it yet. */
  classificationsCount: number;
}

export interface ZooniverseEffects {
  /**
   * Retires the subjects in the workflow with the reason (checked before
   * anything is sent). Unknown subject ids are skipped by Panoptes without a
   * word, and already retired ones keep their first reason: read back with
   * retirementOf to know. AmbiguousRequestError when the outcome is unknown.
   */
  retireSubjects(workflowId: string, subjectIds: readonly string[], reason: RetirementRequest): Promise<void>;

  /**
   * Links the subjects to the set (an expert set, a follow-up set). Refused
   * (PanoptesRefused 'unprocessable') if any id is not a subject.
   * AmbiguousRequestError when the outcome is unknown.
   */
  addSubjectsToSet(setId: string, subjectIds: readonly string[]): Promise<void>;

  /** Every asked subject, in the order asked; one never classified nor retired reads as not retired. */
  retirementOf(workflowId: string, subjectIds: readonly string[]): Promise<SubjectRetirement[]>;

  /**
   * Unlinks the subjects from the set (the undo of addSubjectsToSet).
   * Idempotent: a subject that is not a member is simply not there after.
   */
  removeSubjectsFromSet(setId: string, subjectIds: readonly string[]): Promise<void>;

  /** Which of the asked subjects are members of the set now. */
  setMembers(setId: string, subjectIds: readonly string[]): Promise<Set<string>>;
}
