import { AmbiguousRequestError, type PanoptesClient, type PanoptesSubject, type PanoptesSubjectSet } from './ports/panoptes-client.js';
import { UpstreamError } from './errors.js';

/*
 * Looking before creating again: the helpers the upload engine (upload.ts)
 * uses to find what an ambiguous create may have made at Zooniverse.
 *
 * Panoptes cannot filter subjects on external_id, so finding subjects by
 * external_id costs a full listing of a set or of the project (100 per page).
 * The engine therefore never looks one subject up at a time: it collects
 * every ambiguous create of a pass and matches them all against one listing.
 */

/** Where a create may have put a subject: the set (linked at creation or by an import) or only the project. */
export type SubjectScope = { subjectSetId: string } | { projectId: string };

export interface ExternalIdMatches {
  /** external_id -> the subject to keep: the oldest (lowest id) when there are several. */
  found: Map<string, PanoptesSubject>;
  /** Wanted external ids held by more than one live subject in the scope. */
  duplicates: { externalId: string; subjectIds: string[] }[];
  /** Subjects listed to get there (the cost: pages = scanned / 100). */
  scanned: number;
}

/** One listing of the scope, matched against every wanted external id at once. */
export async function matchExternalIds(panoptes: PanoptesClient, scope: SubjectScope, externalIds: Iterable<string>): Promise<ExternalIdMatches> {
  const wanted = new Set(externalIds);
  const all = new Map<string, PanoptesSubject[]>();
  let scanned = 0;
  if (wanted.size > 0) {
    for await (const s of panoptes.findSubjects(scope)) {
      scanned++;
      if (s.externalId === null || !wanted.has(s.externalId)) continue;
      const list = all.get(s.externalId);
      if (list) list.push(s);
      else all.set(s.externalId, [s]);
    }
  }
  const found = new Map<string, PanoptesSubject>();
  const duplicates: ExternalIdMatches['duplicates'] = [];
  for (const [ext, list] of all) {
    list.sort((a, b) => compareIds(a.id, b.id));
    found.set(ext, list[0]);
    if (list.length > 1) duplicates.push({ externalId: ext, subjectIds: list.map((s) => s.id) });
  }
  return { found, duplicates, scanned };
}

/** Numeric order for Panoptes ids (strings of digits). */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export interface SubjectSetWanted {
  projectId: string;
  displayName: string;
  /**
   * Keys written into the set's metadata when the bridge creates it, and
   * required (every one, equal) on a set found by name: a set someone else
   * made with the same name is not ours to fill.
   */
  marker: Record<string, string>;
}

/** Our set with that name, if one exists: the oldest of them. */
export async function findOwnSubjectSet(panoptes: PanoptesClient, want: SubjectSetWanted): Promise<PanoptesSubjectSet | undefined> {
  const sets = await panoptes.findSubjectSets({ projectId: want.projectId, displayName: want.displayName });
  const ours = sets.filter((s) => s.displayName === want.displayName && Object.entries(want.marker).every(([k, v]) => String(s.metadata[k] ?? '') === v));
  ours.sort((a, b) => compareIds(a.id, b.id));
  return ours[0];
}

/**
 * Finds the set by name and marker, or creates it. A create whose fate is
 * unknown is followed by a lookup before it is sent again, so a 504 after
 * the commit does not leave two sets.
 */
export async function findOrCreateSubjectSet(
  panoptes: PanoptesClient,
  want: SubjectSetWanted,
  opts: { attempts?: number; settle?: () => Promise<void> } = {},
): Promise<{ set: PanoptesSubjectSet; created: boolean }> {
  const existing = await findOwnSubjectSet(panoptes, want);
  if (existing) return { set: existing, created: false };
  const attempts = opts.attempts ?? 3;
  let last: unknown;
  for (let n = 1; n <= attempts; n++) {
    try {
      const set = await panoptes.createSubjectSet({ projectId: want.projectId, displayName: want.displayName, metadata: { ...want.marker } });
      return { set, created: true };
    } catch (e) {
      if (!(e instanceof AmbiguousRequestError)) throw e;
      last = e;
      await opts.settle?.();
      const found = await findOwnSubjectSet(panoptes, want);
      if (found) return { set: found, created: true };
    }
  }
  throw new UpstreamError(`could not create subject set '${want.displayName}': ${(last as Error).message}`, undefined, { attempts });
}
