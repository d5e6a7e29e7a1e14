import { createHash } from 'node:crypto';

/*
 * The classification export CSV as Panoptes' dump worker writes it
 * (lib/formatter/csv/classification.rb, zooniverse/panoptes 2026), for the
 * Panoptes double: the header row of shared/reference/results.md, labels
 * instead of answer indices (from the workflow's tasks), user_ip as a
 * per-dump hash, subject_data with each subject's retirement and metadata.
 */

export const EXPORT_COLUMNS = [
  'classification_id',
  'user_name',
  'user_id',
  'user_ip',
  'workflow_id',
  'workflow_name',
  'workflow_version',
  'created_at',
  'gold_standard',
  'expert',
  'metadata',
  'annotations',
  'subject_data',
  'subject_ids',
] as const;

/** A workflow task as Panoptes stores it (only what the formatter reads). */
export interface DoubleTask {
  type: string;
  question?: string;
  instruction?: string;
  answers?: { label: string }[];
  tools?: { type: string; label?: string }[];
  [k: string]: unknown;
}

export interface ExportRowInput {
  id: string;
  userLogin: string | null;
  userId: string | null;
  userIp: string;
  workflowId: string;
  workflowName: string;
  workflowVersion: string;
  createdAt: string;
  goldStandard: boolean | null;
  expert: 'expert' | 'owner' | null;
  metadata: Record<string, unknown>;
  /** Stored form: a question's value is the answer's index. */
  annotations: unknown[];
  subjectIds: string[];
  tasks: Record<string, DoubleTask>;
  /** Subject id -> its retirement (the status record) or null, and its metadata. */
  subjects: Record<string, { retired: unknown; metadata: Record<string, unknown> }>;
}

/** The whole CSV, header first, CRLF-free (Ruby's CSV writes \n). */
export function exportCsv(rows: ExportRowInput[], salt: string): string {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const r of rows) lines.push(rowOf(r, salt).map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

function rowOf(r: ExportRowInput, salt: string): string[] {
  // Panoptes writes a random hex per IP per dump (secure_user_ip), never the address.
  const ipHash = createHash('sha256').update(`${salt}/${r.userIp}`).digest('hex').slice(0, 20);
  const subjectData: Record<string, unknown> = {};
  for (const id of r.subjectIds) subjectData[id] = { retired: r.subjects[id]?.retired ?? null, ...(r.subjects[id]?.metadata ?? {}) };
  return [
    r.id,
    r.userLogin ?? `not-logged-in-${ipHash}`,
    r.userId ?? '',
    ipHash,
    r.workflowId,
    r.workflowName,
    r.workflowVersion,
    rubyTime(r.createdAt),
    r.goldStandard ? 'true' : r.goldStandard === false ? 'false' : '',
    r.expert ?? '',
    JSON.stringify(r.metadata),
    JSON.stringify(r.annotations.map((a) => labelled(a, r.tasks))),
    JSON.stringify(subjectData),
    r.subjectIds.join(';'),
  ];
}

/** One annotation as AnnotationForCsv renders it: labels for questions, tool_label on marks. */
function labelled(annotation: unknown, tasks: Record<string, DoubleTask>): unknown {
  if (!annotation || typeof annotation !== 'object') return annotation;
  const a = annotation as { task?: unknown; value?: unknown };
  const task = typeof a.task === 'string' ? tasks[a.task] : undefined;
  if (!task) return annotation;
  const label = (i: unknown) => (typeof i === 'number' ? (task.answers?.[i]?.label ?? null) : i);
  const taskLabel = task.question ?? task.instruction ?? null;
  if (task.type === 'single') return { task: a.task, task_label: taskLabel, value: label(a.value) };
  if (task.type === 'multiple' || task.type === 'shortcut') return { task: a.task, task_label: taskLabel, value: Array.isArray(a.value) ? a.value.map(label) : [] };
  if (task.type === 'drawing') {
    const marks = Array.isArray(a.value) ? a.value : [];
    return {
      task: a.task,
      task_label: taskLabel,
      value: marks.map((m: unknown) => {
        const tool = (m as { tool?: unknown })?.tool;
        return m && typeof m === 'object' ? { ...m, tool_label: typeof tool === 'number' ? (task.tools?.[tool]?.label ?? null) : null } : m;
      }),
    };
  }
  return annotation;
}

/** Ruby's Time#to_s in UTC: "2026-03-01 12:00:00 UTC". */
function rubyTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
