import { volunteerKey, type RawClassification } from '../results/index.js';
import type { NewClassification, StoredClassification } from './ports/classifications-repository.js';
import type { Repositories } from './ports/repositories.js';

/**
 * What the pull and the export backfill share: deciding which of a batch of
 * classifications are of the bridge's own subjects, and turning them into
 * stored rows (and back into the results library's RawClassification).
 *
 * A subject is the bridge's when an upload item of a collection bound to the
 * project created it (upload_items.subject_id); an export row may also name
 * the bridge image in the subject's metadata ('#bridge_image_id'), which
 * covers subjects uploaded by hand from the bridge's manifests. Anything
 * else is counted as ignored and never stored. The volunteer is kept as an
 * opaque key; no IP address exists in RawClassification, so none is stored.
 */

export interface Kept {
  rows: NewClassification[];
  /** Classifications with at least one of the bridge's subjects. */
  kept: number;
  ignored: number;
}

export async function keepBridgeRows(repos: Repositories, projectId: string, list: RawClassification[], source: NewClassification['source']): Promise<Kept> {
  const subjectIds = [...new Set(list.flatMap((c) => c.subjectIds))];
  const bySubject = new Map((await repos.classifications.bridgeSubjects(projectId, subjectIds)).map((s) => [s.subjectId, s]));
  // Export rows name the bridge image in the subject's metadata: the only link for subjects uploaded by hand.
  const imageIds: string[] = [];
  for (const c of list) for (const s of c.subjectIds) if (!bySubject.has(s)) {
    const img = c.subjectData?.[s]?.['#bridge_image_id'];
    if (typeof img === 'string') imageIds.push(img);
  }
  const byImage = new Map((await repos.classifications.bridgeImages(projectId, imageIds)).map((i) => [i.imageId, i]));
  const rows: NewClassification[] = [];
  let kept = 0;
  for (const c of list) {
    let mine = 0;
    const volunteer = volunteerKey(c);
    for (const subjectId of new Set(c.subjectIds)) {
      let target: { imageId: string; collectionId: string } | undefined = bySubject.get(subjectId);
      if (!target) {
        const img = c.subjectData?.[subjectId]?.['#bridge_image_id'];
        target = typeof img === 'string' ? byImage.get(img) : undefined;
      }
      if (!target) continue;
      mine++;
      rows.push({
        id: c.id,
        subjectId,
        projectId,
        workflowId: c.workflowId,
        workflowVersion: c.workflowVersion ?? null,
        collectionId: target.collectionId,
        imageId: target.imageId,
        volunteer,
        createdAt: c.createdAt,
        annotations: c.annotations,
        metadata: withoutIp(c.metadata ?? {}),
        goldStandard: c.goldStandard ?? null,
        expert: c.expert ?? null,
        source,
      });
    }
    if (mine > 0) kept++;
  }
  return { rows, kept, ignored: list.length - kept };
}

const PRIVATE = new Set(['user_ip', 'ip', 'ip_address']);

/** The classifier's metadata without anything naming an address (the sources already drop it; this keeps it so). */
function withoutIp(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (!PRIVATE.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** A stored row as the results library reads it: one subject, the volunteer key turned back into what gives the same key. */
export function toRaw(c: StoredClassification): RawClassification {
  const v = c.volunteer;
  const userId = v.startsWith('user:') ? v.slice(5) : null;
  const userName = v.startsWith('name:') ? v.slice(5) : null;
  const raw: RawClassification = { id: c.id, workflowId: c.workflowId, userId, userName, createdAt: c.createdAt, subjectIds: [c.subjectId], annotations: c.annotations, metadata: c.metadata };
  if (c.workflowVersion !== null) raw.workflowVersion = c.workflowVersion;
  if (c.goldStandard !== null) raw.goldStandard = c.goldStandard;
  if (c.expert !== null) raw.expert = c.expert;
  return raw;
}
