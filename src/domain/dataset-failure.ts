import type { Artifact } from './model.js';
import type { Repositories } from './ports/repositories.js';

/**
 * How a failed Butler dataset is told to a person: by its id, type and
 * dataId, and its file; and the one way a dataset that failed for good is
 * recorded (the artifact and its `artifact_failed` event together).
 */

/** `dataset 1f2e... (cutout_stamps band=r tract=9813 patch=42)`. */
export function describeDataset(a: Pick<Artifact, 'dataset_id' | 'dataset_type' | 'data_id'>): string {
  const id = Object.entries(a.data_id)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `dataset ${a.dataset_id} (${a.dataset_type}${id ? ` ${id}` : ''})`;
}

/** What a failure event says about one dataset: enough to find it in the Butler and to retry it. */
export function failedDataset(a: Artifact, error: string): Record<string, unknown> {
  return { artifactId: a.id, datasetId: a.dataset_id, datasetType: a.dataset_type, run: a.run, dataId: a.data_id, band: a.band, file: a.path, error };
}

/** Marks the artifact failed with the PI's `artifact_failed` event, in one transaction; nothing when it had already ended. */
export async function recordArtifactFailure(repos: Repositories, a: Artifact, reason: string, actor: string): Promise<void> {
  await repos.transaction(async (tx) => {
    if (await tx.artifacts.markFailed(a, reason, actor)) await tx.events.record(a.collection_id, 'artifact_failed', failedDataset(a, reason));
  });
}
