import { z } from 'zod';

import type { RawClassification } from '../../results/types.js';

/*
 * A classification as Panoptes' API sends it (ClassificationSerializer:
 * id, annotations, created_at, updated_at, metadata with workflow_version
 * merged in, href, links project/user/user_group/workflow/subjects), read
 * into the results module's RawClassification.
 *
 * Tolerant where the bridge does not depend on a field (absent metadata,
 * links it does not use, a newer Panoptes adding fields), strict where it
 * does (id, workflow, creation time, subjects, annotations): a
 * classification without them cannot be attributed, and guessing would put
 * volunteers' answers on the wrong subject.
 *
 * The result is built field by field, never by spreading the answer, so
 * nothing Panoptes adds travels on unseen; a volunteer's IP address in
 * particular (`user_ip`, which the API does not send today) is dropped
 * wherever it appears, and so is an `ip` key in the classifier's metadata.
 */

const Id = z.union([z.string().min(1), z.number().int()]).transform(String);

export const ClassificationJson = z.object({
  // Digits: the pull compares ids to move its cursor.
  id: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String),
  annotations: z.array(z.unknown()),
  created_at: z.string().min(1),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  // Not sent by the API today; read if a Panoptes ever does (the export has them).
  gold_standard: z.boolean().nullish(),
  expert_classifier: z.union([z.string(), z.number()]).nullish(),
  links: z.object({
    workflow: Id,
    user: Id.nullish(),
    subjects: z.array(Id).min(1),
  }),
});

const PRIVATE_METADATA = new Set(['user_ip', 'ip', 'ip_address']);

export function toRawClassification(j: z.infer<typeof ClassificationJson>): RawClassification {
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j.metadata ?? {})) if (!PRIVATE_METADATA.has(k.toLowerCase())) metadata[k] = v;
  const version = metadata.workflow_version;
  const raw: RawClassification = {
    id: j.id,
    workflowId: j.links.workflow,
    userId: j.links.user ?? null,
    // The API gives the volunteer's id only; the login is in the export.
    userName: null,
    createdAt: j.created_at,
    subjectIds: j.links.subjects,
    annotations: j.annotations,
    metadata,
  };
  if (typeof version === 'string' || typeof version === 'number') raw.workflowVersion = String(version);
  if (typeof j.gold_standard === 'boolean') raw.goldStandard = j.gold_standard;
  if (j.expert_classifier !== undefined && j.expert_classifier !== null) raw.expert = true;
  return raw;
}
