import { z } from 'zod';
import { registrationSchema } from './collections-routes.js';
import { COLOUR_PRESETS } from '../imaging/colour/presets.js';

/** OpenAPI 3.1 description of /api/v1, the request schema generated from the same zod schema the route uses. */
export function openApiDocument(): Record<string, unknown> {
  const problem = { $ref: '#/components/schemas/Problem' };
  const errors = {
    '400': { description: 'Invalid request (names the field)', content: { 'application/problem+json': { schema: problem } } },
    '401': { description: 'Not authenticated', content: { 'application/problem+json': { schema: problem } } },
    '403': { description: 'Not allowed', content: { 'application/problem+json': { schema: problem } } },
    '404': { description: 'Not found', content: { 'application/problem+json': { schema: problem } } },
  };
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];
  const resultFilters = [
    { name: 'task', in: 'query', schema: { type: 'string' }, description: 'only subjects with this task; answer and agreement then read its consensus' },
    { name: 'answer', in: 'query', schema: { type: 'string' }, description: 'consensus answer (most_likely)' },
    { name: 'minAgreement', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 } },
    { name: 'maxAgreement', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 } },
    { name: 'retired', in: 'query', schema: { enum: ['true', 'false'] } },
    { name: 'flagged', in: 'query', schema: { enum: ['true', 'false'] } },
  ];
  const page = [
    { name: 'after', in: 'query', schema: { type: 'string', format: 'uuid' } },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
    { name: 'state', in: 'query', schema: { type: 'string' } },
  ];
  return {
    openapi: '3.1.0',
    info: { title: 'RSP-to-Zooniverse bridge', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or opaque token from the RSP identity provider' },
        session: { type: 'apiKey', in: 'cookie', name: 'bridge_session', description: 'Browser session; writes also need the X-CSRF-Token header' },
        caesarBasic: { type: 'http', scheme: 'basic', description: "Caesar's external effect only: username = the collection id, password = its Caesar secret" },
      },
      schemas: {
        Registration: z.toJSONSchema(registrationSchema, { io: 'input' }),
        Problem: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, title: { type: 'string' }, detail: { type: 'string' }, field: { type: 'string' }, requestId: { type: 'string' } } },
      },
    },
    paths: {
      '/docs': { get: { summary: 'This reference as a web page (no script, no external requests)', responses: { '200': { description: 'HTML' } } } },
      '/collections': {
        post: { summary: 'Register a collection under u/<you>/', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Registration' } } } }, responses: { '201': { description: 'Registered' }, '409': { description: 'Already registered' }, ...errors } },
        get: {
          summary: 'Collections with image counts: your own, or all for reviewers and admins (mine=true for your own); a page at a time, `next` continues',
          parameters: [
            { name: 'mine', in: 'query', schema: { enum: ['true', 'false'] } },
            { name: 'after', in: 'query', schema: { type: 'string' }, description: 'the `next` of the page before' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
          ],
          responses: { '200': { description: '{ items, next }' }, ...errors },
        },
      },
      '/collections/{id}': {
        get: { summary: 'A collection with counts per state and its upload settings', parameters: idParam, responses: { '200': { description: 'Collection' }, ...errors } },
        patch: {
          summary: 'Owner or admin: upload settings, each optional, audited; they apply to batches planned afterwards',
          parameters: idParam,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    zooniverseProjectId: { type: ['string', 'null'], pattern: '^\\d{1,12}$' },
                    uploadMode: { enum: ['import', 'api'] },
                    maxBatchSize: { type: 'integer', minimum: 1, maximum: 10000 },
                    subjectSetPer: { enum: ['batch', 'collection'] },
                    subjectSetNaming: { type: ['string', 'null'], maxLength: 200 },
                    subjectFrames: { type: 'boolean', description: 'flipbook subjects: colour image then one grey frame per band' },
                    oneIncompleteSet: { type: 'boolean', description: 'start a new subject set only once the previous one is complete' },
                    extraMetadata: { type: 'object', properties: { columns: { type: 'object' }, objects: { type: 'object' } } },
                  },
                },
              },
            },
          },
          responses: { '200': { description: 'Collection' }, ...errors },
        },
      },
      '/collections/{id}/results': {
        get: {
          summary: "Owner, delegates and admins only (rows carry private RA/Dec; reviewers are refused): the volunteers' results, one row per subject keyed by the PI's object id, with per-task counts, fractions, consensus, evenness, survey choices, clusters, SWAP, retired and why, flags, and a short-lived thumbnail URL. Keyset pages: pass `next` back as `cursor`",
          parameters: [...idParam, ...resultFilters, { name: 'cursor', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } }, { name: 'sort', in: 'query', schema: { enum: ['subject', 'agreement', '-agreement'], default: 'subject' } }],
          responses: { '200': { description: '{ items, next, total, previewExpiresAt, summary (first page only: tasks with their answer labels, agreement histogram in 10 bins) }' }, ...errors },
        },
      },
      '/collections/{id}/results.csv': { get: { summary: 'The whole filtered result set as CSV (streamed; flat columns, one per task answer), same access as /results', parameters: [...idParam, ...resultFilters], responses: { '200': { description: 'CSV', content: { 'text/csv': {} } }, ...errors } } },
      '/collections/{id}/results.parquet': { get: { summary: 'The same table as Parquet (typed, nullable columns; streamed a row group at a time)', parameters: [...idParam, ...resultFilters], responses: { '200': { description: 'Parquet', content: { 'application/vnd.apache.parquet': {} } }, ...errors } } },
      '/collections/{id}/pause': { post: { summary: 'Stop polling', parameters: idParam, responses: { '200': { description: 'Paused' }, ...errors } } },
      '/collections/{id}/resume': { post: { summary: 'Resume polling', parameters: idParam, responses: { '200': { description: 'Active' }, ...errors } } },
      '/collections/{id}/retire': { post: { summary: 'Retire for good', parameters: idParam, responses: { '200': { description: 'Retired' }, ...errors } } },
      '/collections/{id}/artifacts': { get: { summary: 'Artifacts, each failed one with its reason', parameters: [...idParam, ...page], responses: { '200': { description: 'Page' }, ...errors } } },
      '/collections/{id}/images': { get: { summary: 'Images', parameters: [...idParam, ...page], responses: { '200': { description: 'Page' }, ...errors } } },
      '/collections/{id}/audit': { get: { summary: "The collection's audit log, newest first (verdicts, decisions, panel approval)", parameters: idParam, responses: { '200': { description: 'Entries' }, ...errors } } },
      '/collections/{id}/panel-approval': {
        post: { summary: "Admin: record the Data Rights Panel's decision (a policy fact); images the policy judged are judged again (`reopened` says how many), a reviewer's decisions stand", parameters: idParam, requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['panelApproval', 'reason'], properties: { panelApproval: { enum: ['none', 'approved'] }, reason: { type: 'string' } } } } } }, responses: { '200': { description: 'Recorded' }, ...errors } },
      },
      '/collections/{id}/publish-delay': {
        put: { summary: "Admin: this collection's publishing delay in seconds (null: the deployment's PUBLISH_DELAY_SECONDS), with the reason; audited. Images already approved keep theirs", parameters: idParam, requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['seconds', 'reason'], properties: { seconds: { type: ['integer', 'null'], minimum: 0, maximum: 604800 }, reason: { type: 'string' } } } } } }, responses: { '200': { description: 'Saved' }, ...errors } },
      },
      '/me': { get: { summary: 'Who you are: username, roles, groups, data rights (and the CSRF token for browser sessions)', responses: { '200': { description: 'Identity' }, ...errors } } },
      '/review/batches': { get: { summary: "A collection's review batches (one per poll that found data) with counts", parameters: [{ name: 'collection', in: 'query', required: true, schema: { type: 'string', format: 'uuid' } }], responses: { '200': { description: 'Batches' }, ...errors } } },
      '/review/images': {
        get: {
          summary: 'Images with their policy verdict, rules, position, bands, preset and a short-lived signed preview URL',
          parameters: ['collection', 'batch'].map((name) => ({ name, in: 'query', schema: { type: 'string', format: 'uuid' } })).concat([
            { name: 'verdict', in: 'query', schema: { enum: ['pending_review', 'held', 'auto_approved', 'rejected'] } as never },
            { name: 'state', in: 'query', schema: { type: 'string' } as never },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } as never },
            { name: 'after', in: 'query', schema: { type: 'string' } as never },
          ]),
          responses: { '200': { description: 'Page: `{ items, next, total }` (`total`: how many images the filters match in all; `next`: the `after` of the following page, or null)' }, ...errors },
        },
      },
      '/review/image-ids': {
        get: {
          summary: 'Every image id /review/images would page through with these filters, in its order (at most 10,000; `truncated` says more matched): `{ ids, total, truncated }`. `decidable=true`: only images you could approve, reject or undo now (reviewers: not your own collections\', not rejected or held by the policy); `decidable=approve|reject|undo`: only those that action applies to',
          parameters: ['collection', 'batch'].map((name) => ({ name, in: 'query', schema: { type: 'string', format: 'uuid' } })).concat([
            { name: 'verdict', in: 'query', schema: { enum: ['pending_review', 'held', 'auto_approved', 'rejected'] } as never },
            { name: 'state', in: 'query', schema: { type: 'string' } as never },
            { name: 'decidable', in: 'query', schema: { enum: ['true', 'false', 'approve', 'reject', 'undo'] } as never },
          ]),
          responses: { '200': { description: 'Ids', content: { 'application/json': { schema: { type: 'object', required: ['ids', 'total', 'truncated'], properties: { ids: { type: 'array', items: { type: 'string', format: 'uuid' } }, total: { type: 'integer' }, truncated: { type: 'boolean' } } } } } }, ...errors },
        },
      },
      '/review/images/refresh': {
        get: {
          summary: 'New signed preview URLs (image and frames) for up to 500 images you may see, with when they stop working (MEDIA_URL_TTL_SECONDS): `{ items: [{ id, previewUrl, frames: [{ band, previewUrl }], previewExpiresAt }] }`; ids you may not see are left out',
          parameters: [{ name: 'ids', in: 'query', required: true, description: 'comma-separated image ids (1-500)', schema: { type: 'string' } }],
          responses: { '200': { description: 'Fresh URLs' }, ...errors },
        },
      },
      '/collections/{id}/why': {
        get: {
          summary: "Why, per collection (owner, reviewers, admins): the images grouped by outcome (rejected, held, pending_review, auto_approved, reviewer_approved, reviewer_rejected, failed) and reason, largest group first, each with the matched rules, the count, the next step in words and, for an embargo, when it ends (`until`): `{ total, groups: [{ outcome, rules, reason, count, nextStep, until }] }`",
          parameters: idParam,
          responses: { '200': { description: 'Groups' }, ...errors },
        },
      },
      '/review/decisions': {
        post: {
          summary: "Reviewer: approve, reject (reason required) or undo many images; each succeeds or fails on its own; never on your own collection. An approval publishes when the publishing delay ends (`publishAfter` in each result; PUBLISH_DELAY_SECONDS, default 600, or the collection's own); Undo works until then. Admins who are reviewers: `publishNow: true` with approve skips the delay (audited)",
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['imageIds', 'action'], properties: { imageIds: { type: 'array', items: { type: 'string', format: 'uuid' }, maxItems: 500 }, action: { enum: ['approve', 'reject', 'undo'] }, reason: { type: 'string' }, publishNow: { type: 'boolean' } } } } } },
          responses: { '200': { description: 'Per-image results' }, ...errors },
        },
      },
      '/review/publish-now': {
        post: {
          summary: 'Admin: end the publishing delay of images a reviewer approved, so they publish now (reason required, audited per image)',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['imageIds', 'reason'], properties: { imageIds: { type: 'array', items: { type: 'string', format: 'uuid' }, maxItems: 500 }, reason: { type: 'string' } } } } } },
          responses: { '200': { description: 'Per-image results' }, ...errors },
        },
      },
      '/collections/{id}/extra-metadata': {
        put: {
          summary: "Owner or admin: replace the per-object metadata table (CSV, up to 8 MB): first column `object` (image id, <dataset id>:<stamp index> or stamp index), then metadata keys; errors name the line",
          parameters: idParam,
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } },
          responses: { '200': { description: 'The collection' }, ...errors },
        },
      },
      '/collections/{id}/webhook': {
        put: { summary: 'Owner or admin: set the webhook (https, a public address); answers the whsec_ secret once. Deliveries are JSON signed as Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,base64 HMAC-SHA256 of id.timestamp.body), with X-Bridge-Event; X-Bridge-Signature (sha256=HMAC(secret, body)) is deprecated', parameters: idParam, responses: { '200': { description: 'URL and secret' }, ...errors } },
        delete: { summary: 'Owner or admin: remove the webhook', parameters: idParam, responses: { '204': { description: 'Removed' }, ...errors } },
      },
      '/collections/{id}/events': { get: { summary: "The collection's events (batch quarantined once per poll batch with its counts, artifact failed, group failed, images approved/rejected/retracted, verdicts reopened, images back to review, batch published/waiting/uploaded/failed/blocked/retracted) with their delivery state", parameters: idParam, responses: { '200': { description: 'Events' }, ...errors } } },
      '/collections/{id}/failures': { get: { summary: 'What stopped: failed artifacts (dataset id, type, dataId, band, file, reason, attempts), failed stamps (group, stamp, dataset ids, reason; at most 200, moreStamps when there are more) and failed, blocked or waiting upload batches (state, mode, reason)', parameters: idParam, responses: { '200': { description: 'Failures' }, ...errors } } },
      '/collections/{id}/results/status': { get: { summary: "Owner, delegates and admins: where the collection's results come from and how far they are: the project's pull (cursor, last pulled, last error in words, classifications kept and ignored), the export backfill (state none/requested/creating/rate_limited/ready/loading/loaded/failed, requested at, next export possible at, rows loaded, error, a sentence saying it), this collection's stored classifications, reduced subjects and reduced seq", parameters: idParam, responses: { '200': { description: '{ collectionId, projectId, pull, export, classifications, reducedSubjects, reducedSeq, pulling }' }, ...errors } } },
      '/collections/{id}/results/backfill': { post: { summary: "Owner or admin: ask for a backfill from Panoptes' classification export of the collection's project (classifications made before the pull, or it could not see). Panoptes allows one export a day: no request is ever sent inside that window. 202 with { state: requested|creating|ready, nextPossibleAt, message }; 409 naming when the next export is possible when one was made less than a day ago", parameters: idParam, responses: { '202': { description: '{ projectId, state, nextPossibleAt, message }' }, '409': { description: 'Rate-limited: detail.nextPossibleAt' }, ...errors } } },
      '/collections/{id}/results/recompute': { post: { summary: "Owner or admin: rebuild the collection's reductions from every stored classification (audited). The reduction job does it next (now, when the workers run); results keep their current values until it finishes", parameters: idParam, responses: { '202': { description: '{ collectionId, message }' }, ...errors } } },
      '/collections/{id}/results/caesar': { get: { summary: "Owner, delegates and admins: whether the collection accepts Caesar's external-effect POSTs, the URL and username to give Caesar, who set the secret and when, deliveries stored and ignored, and the last one", parameters: idParam, responses: { '200': { description: '{ enabled, url, username, createdBy?, createdAt?, stored?, ignored?, lastReceivedAt? }' }, ...errors } } },
      '/collections/{id}/results/caesar-secret': {
        post: { summary: "Owner or admin, for projects that already run Caesar: creates the collection's Caesar secret, or rotates it (the old one stops working at once; audited, without the secret). 201 with the secret (shown this once; only its hash is kept), the URL, the username (the collection id) and an `external_with_basic_auth` effect config to paste into Caesar", parameters: idParam, responses: { '201': { description: '{ secret, rotated, url, username, effect: { action, config: { url, reducer_key, username, password } } }' }, ...errors } },
        delete: { summary: 'Owner or admin: switch the Caesar endpoint off (audited); reductions already received stay', parameters: idParam, responses: { '204': { description: 'Switched off' }, ...errors } },
      },
      '/caesar/collections/{id}/reductions': {
        post: {
          summary: "Caesar's `external_with_basic_auth` effect: one reduction of one subject, { id, reducible: { id, type: 'Workflow' }, data, subject: { id, metadata }, reducer_key, created_at, updated_at } (unknown fields ignored; at most 256 kB). HTTP Basic: username = the collection id, password = its Caesar secret; no session or CSRF token. The subject is matched to the bridge's image by its uploaded subject id or its `#bridge_image_id` metadata. The latest reduction per (workflow, subject, reducer_key) by updated_at is kept; an older re-delivery changes nothing. Answers 200 whenever the delivery was read, also for subjects that are not this collection's (`outcome: ignored`, counted): Caesar retries anything but 200/201/204",
          security: [{ caesarBasic: [] }],
          parameters: idParam,
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reducible', 'subject'], properties: { id: { type: ['string', 'integer'] }, reducible: { type: 'object', properties: { id: { type: ['string', 'integer'] }, type: { type: 'string' } } }, data: {}, subject: { type: 'object', properties: { id: { type: ['string', 'integer'] }, metadata: { type: 'object' } } }, reducer_key: { type: 'string' }, created_at: { type: 'string' }, updated_at: { type: 'string' } } } } } },
          responses: { '200': { description: '{ stored, outcome: stored|stale|ignored, reason?, imageId? }' }, '401': { description: 'Missing or wrong credentials (WWW-Authenticate: Basic)', content: { 'application/problem+json': { schema: problem } } }, '400': errors['400'], '413': { description: 'Body over 256 kB' }, '429': { description: 'Rate limited (Caesar retries)' } },
        },
      },
      '/collections/{id}/results/rules': {
        put: {
          summary: "Owner or admin: store the collection's results rules (policies/README.md, \"Results rules\"), sent as YAML (Content-Type text/yaml) or JSON {source}. Stored switched off: dry-run, then enable. 422 with `issues` (line, rule, at, message) when the file has problems",
          parameters: idParam,
          requestBody: { content: { 'text/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object', required: ['source'], properties: { source: { type: 'string' } } } } } },
          responses: { '200': { description: 'The stored rules, parsed, with enabled false' }, '422': { description: 'The file has problems', content: { 'application/problem+json': { schema: problem } } }, ...errors },
        },
        get: { summary: 'Owner or admin: the stored results rules (source, parsed rules, enabled, digest)', parameters: idParam, responses: { '200': { description: 'Rules' }, ...errors } },
      },
      '/collections/{id}/results/rules/dry-run': {
        post: {
          summary: 'Owner or admin: what the rules (the stored file, or a `source` sent as YAML or JSON) would do now on the current reductions, writing nothing: per rule the subjects it holds for (image id, subject id, the values read), effects already in the ledger, warnings (retirement cannot be undone through the Panoptes API)',
          parameters: idParam,
          requestBody: { required: false, content: { 'text/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object', properties: { source: { type: 'string' } } } } } },
          responses: { '200': { description: '{ name, version, digest, workflow, subjectsEvaluated, rules: [{ id, task, effects, wouldDo, subjects }], problems, warnings }' }, '422': { description: 'The file has problems' }, ...errors },
        },
      },
      '/collections/{id}/results/rules/enable': { post: { summary: 'Owner or admin: switch the stored results rules on (audited); they are applied at once and after every reduction', parameters: idParam, responses: { '200': { description: '{ enabled, digest, updatedBy, updatedAt }' }, ...errors } } },
      '/collections/{id}/results/rules/disable': { post: { summary: 'Owner or admin: switch the results rules off (audited); effects already done stay done', parameters: idParam, responses: { '200': { description: '{ enabled, digest, updatedBy, updatedAt }' }, ...errors } } },
      '/collections/{id}/results/effects': {
        get: {
          summary: 'Owner or admin: the results-rule effects ledger, newest first (retire_subject, add_subject_to_set, notify, flag; states intent, sending, ambiguous, done, failed, undone). Page with `before` (the last id)',
          parameters: [...idParam, { name: 'state', in: 'query', schema: { enum: ['intent', 'sending', 'ambiguous', 'done', 'failed', 'undone'] } }, { name: 'kind', in: 'query', schema: { enum: ['retire_subject', 'add_subject_to_set', 'notify', 'flag'] } }, { name: 'before', in: 'query', schema: { type: 'string', format: 'uuid' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } }],
          responses: { '200': { description: '{ items: [{ id, kind, state, rule, target, subjectId, imageId, attempts, error, detail, undoable }], next }' }, ...errors },
        },
      },
      '/results/effects/{effectId}/undo': {
        post: {
          summary: "Owner or admin: undo a done effect: a flag is cleared, a subject added to a set is removed from it (audited; the rule does not redo it). A retirement cannot be undone (409: Panoptes has no un-retire in its API), nor a notification sent",
          parameters: [{ name: 'effectId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '200': { description: 'The effect, now undone' }, ...errors },
        },
      },
      '/collections/{id}/batches/retry': { post: { summary: 'Owner or admin: retry every failed, blocked or waiting upload batch (audited; a batch that sent nothing takes the collection\'s current upload mode)', parameters: idParam, responses: { '200': { description: 'Retried batches' }, ...errors } } },
      '/collections/{id}/batches/{batchId}/retry': { post: { summary: 'Owner or admin: retry one upload batch; 409 when it is not failed, blocked or waiting', parameters: [...idParam, { name: 'batchId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }], responses: { '200': { description: 'Retried' }, '409': { description: 'Not stopped' }, ...errors } } },
      '/collections/{id}/artifacts/retry': { post: { summary: 'Owner or admin: retrieve and convert every failed artifact again (audited)', parameters: idParam, responses: { '200': { description: 'Retried artifacts' }, ...errors } } },
      '/collections/{id}/artifacts/{artifactId}/retry': { post: { summary: 'Owner or admin: retrieve and convert one failed artifact again; 409 when it is not failed', parameters: [...idParam, { name: 'artifactId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }], responses: { '200': { description: 'Retried' }, '409': { description: 'Not failed' }, ...errors } } },
      '/collections/{id}/uploads': { get: { summary: 'Release progress: approved images waiting to be published, published, subjects created and linked over all batches, settled (nothing on its way), uploading (false without a Zooniverse project or without credentials on this bridge: upload batches stop at their manifests, and `GET /collections/{id}/export` is the way out), zooniverseProjectId, and per upload batch (items) the ledger counts (pending, created, linked, failed), state, subject set and errors', parameters: idParam, responses: { '200': { description: 'Progress' }, ...errors } } },
      '/images/{id}/audit': { get: { summary: "An image's audit trail", parameters: idParam, responses: { '200': { description: 'Entries' }, ...errors } } },
      '/images/{id}/render': {
        get: {
          summary: 'The image rendered again in another colour preset (same stamp, bands, channel order and size as stored), for the viewer; whoever may see the image may ask; nothing is stored; answers Cache-Control: private, max-age=300',
          parameters: [...idParam, { name: 'preset', in: 'query', required: true, schema: { type: 'string', enum: [...COLOUR_PRESETS] } }],
          responses: { '200': { description: 'PNG', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } }, '409': { description: 'Cannot be rendered again: its FITS files are no longer in quarantine, it came ready-made from a ZIP, it failed to convert, or it is over the size limit' }, ...errors },
        },
      },
      '/retractions': {
        post: {
          summary: 'Take released images down (owner, reviewer or admin): scope images, an upload batch, or a whole collection (which is also retired); subjects are unlinked and deleted at Zooniverse, public objects removed, all audited',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['scope', 'reason'], properties: { scope: { enum: ['images', 'batch', 'collection'] }, imageIds: { type: 'array', items: { type: 'string', format: 'uuid' } }, uploadBatchId: { type: 'string', format: 'uuid' }, collectionId: { type: 'string', format: 'uuid' }, reason: { type: 'string' } } } } } },
          responses: { '200': { description: 'Per-image results' }, ...errors },
        },
      },
      '/delegations': {
        get: { summary: 'Admin: delegated collection prefixes', responses: { '200': { description: 'List' }, ...errors } },
        post: { summary: 'Admin: let a PI register collections under a prefix outside u/<own name>/', responses: { '201': { description: 'Delegated' }, '409': { description: 'Exists' }, ...errors } },
      },
      '/collections/{id}/release': { post: { summary: 'Admin: override the data release the mapping derived for this collection ({release, proprietary, embargoHours, reason}); audited; images the policy judged are judged again (`reopened` says how many), a reviewer\'s decisions stand', parameters: idParam, responses: { '200': { description: 'Release set' }, ...errors } } },
      '/project-bindings': {
        get: { summary: 'Admin: the Zooniverse projects approved for each PI', responses: { '200': { description: 'List' }, ...errors } },
        post: { summary: 'Admin: approve a Zooniverse project for a PI ({username, projectId, reason}); only approved projects may be set as a collection\'s zooniverseProjectId (otherwise 403). Audited', responses: { '201': { description: 'Approved' }, '409': { description: 'Exists' }, ...errors } },
        delete: { summary: 'Admin: withdraw a PI\'s project approval ({username, projectId}); collections keep their setting, but their uploads wait (batch state waiting, with the reason) until it is approved again; new settings are refused. Audited', responses: { '204': { description: 'Withdrawn' }, ...errors } },
      },
      '/project-binding-requests': {
        get: { summary: 'Admin: the PIs\' requests for a Zooniverse project, waiting for an answer, oldest first ({id, username, projectId, reason, createdAt}); approving (POST /project-bindings) answers a request', responses: { '200': { description: 'List' }, ...errors } },
        post: { summary: 'PI: ask an admin to approve a Zooniverse project for you ({projectId, reason}); 201 asked, 200 already asked (the first request stands), 409 already approved. Audited', responses: { '201': { description: 'Asked' }, '200': { description: 'Already asked' }, '409': { description: 'Already approved' }, ...errors } },
        delete: { summary: 'Admin: decline a PI\'s request ({username, projectId, reason}); the PI: withdraw your own. Audited', responses: { '204': { description: 'Declined or withdrawn' }, ...errors } },
      },
      '/me/project-bindings': { get: { summary: 'Your Zooniverse projects: those an admin approved for you ({approved: [{projectId, approvedBy, createdAt}]}) and your requests still waiting ({requested: [{projectId, reason, createdAt}]})', responses: { '200': { description: 'Approved and requested' }, ...errors } } },
      '/collections/preview': {
        post: { summary: 'PI: before registering, a few stamps (at most 3) of the collection read from its source and rendered in every colour preset, as PNG data: URLs with the preset names; same body and rules as registration (your own u/<you>/ or a delegated prefix); nothing is stored', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Registration' } } } }, responses: { '200': { description: 'Preview' }, '422': { description: 'The collection cannot be read, or holds nothing to preview' }, ...errors } },
      },
      '/collections/{id}/webhook/test': { post: { summary: 'Owner or admin: send a signed `test` event to the webhook through the same sender and outbound checks as real events; answers {delivered, status} or {delivered: false, error} in words. Not recorded as an event', parameters: idParam, responses: { '200': { description: 'Delivery result' }, ...errors } } },
      '/collections/{id}/export': { get: { summary: 'Owner or admin: the export zip (`bridge export`): the approved images as they would be published and manifest.csv for the Project Builder, as an attachment', parameters: idParam, responses: { '200': { description: 'application/zip' }, ...errors } } },
      '/me/events': { get: { summary: "Your events across your collections, newest first (the webhook's events, files_retrieved included), paged with `before` (the last id) and `limit`", parameters: [{ name: 'before', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }], responses: { '200': { description: 'Events and next' }, ...errors } } },
      '/delegations/{id}': { delete: { summary: 'Admin: withdraw a delegation', parameters: idParam, responses: { '204': { description: 'Withdrawn' }, ...errors } } },
      '/releases': { get: { summary: 'Admin: the repository label -> data release mapping in force ({source: file|built-in, file, items: [{label, release, prompt, proprietary, embargoHours}]}); RELEASES_FILE or the built-in default', responses: { '200': { description: 'Mapping' }, ...errors } } },
      '/failures': { get: { summary: 'Admin: what stopped in every collection, newest first: failed artifacts, failed stamps and failed, blocked or waiting upload batches ({kind, id, collectionId, collection, owner, state, error, at, attempts, ...}), with counts per kind; paged with `after` (the `next` of the page before). Retry with the per-collection retry routes', parameters: [{ name: 'after', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }], responses: { '200': { description: 'Page' }, ...errors } } },
    },
    security: [{ bearer: [] }, { session: [] }],
  };
}
