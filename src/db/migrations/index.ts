import type { Migration } from 'kysely';
import * as initial from './20261123090000_initial.js';
import * as review from './20261123120000_review.js';
import * as publish from './20261124090000_publish.js';
import * as subjectFrames from './20261125090000_subject_frames_and_pacing.js';
import * as sessionIdToken from './20261125100000_session_id_token.js';
import * as imageDatasets from './20261126090000_image_datasets.js';
import * as releaseSource from './20261204090000_release_source.js';
import * as projectBindings from './20261204100000_project_bindings.js';
import * as reviewedBy from './20261204120000_reviewed_by.js';
import * as sessionRecheck from './20261204130000_session_recheck.js';
import * as deployment from './20261204140000_deployment.js';
import * as batchSettled from './20261205090000_batch_settled.js';
import * as heldVerdict from './20261205100000_held_verdict.js';
import * as publishDelay from './20261205110000_publish_delay.js';
import * as batchFilesRetrieved from './20261206090000_batch_files_retrieved.js';
import * as colourDefault from './20261207090000_colour_default.js';
import * as projectBindingRequests from './20261207100000_project_binding_requests.js';
import * as reviewOrderIndex from './20261208090000_review_order_index.js';
import * as results from './20261209090000_results.js';
import * as caesarReductions from './20261210090000_caesar_reductions.js';
import * as sourceObjectId from './20261211090000_source_object_id.js';
import * as rulesEvaluatedSeq from './20261212090000_rules_evaluated_seq.js';

/**
 * Every migration, by timestamped name. Listed statically (not read from the
 * directory) so the compiled build and the tests run exactly the same set.
 */
export const migrations: Record<string, Migration> = {
  '20261123090000_initial': initial,
  '20261123120000_review': review,
  '20261124090000_publish': publish,
  '20261125090000_subject_frames_and_pacing': subjectFrames,
  '20261125100000_session_id_token': sessionIdToken,
  '20261126090000_image_datasets': imageDatasets,
  '20261204090000_release_source': releaseSource,
  '20261204100000_project_bindings': projectBindings,
  '20261204120000_reviewed_by': reviewedBy,
  '20261204130000_session_recheck': sessionRecheck,
  '20261204140000_deployment': deployment,
  '20261205090000_batch_settled': batchSettled,
  '20261205100000_held_verdict': heldVerdict,
  '20261205110000_publish_delay': publishDelay,
  '20261206090000_batch_files_retrieved': batchFilesRetrieved,
  '20261207090000_colour_default': colourDefault,
  '20261207100000_project_binding_requests': projectBindingRequests,
  '20261208090000_review_order_index': reviewOrderIndex,
  '20261209090000_results': results,
  '20261210090000_caesar_reductions': caesarReductions,
  '20261211090000_source_object_id': sourceObjectId,
  '20261212090000_rules_evaluated_seq': rulesEvaluatedSeq,
};
