// @ts-check
// The JSON shapes the page reads from the bridge's /api/v1, as the server
// sends them (src/api/review-routes.ts, collections-routes.ts, problem.ts).
// Types only: nothing imports this file at run time, so the browser never
// fetches it. Dates arrive as ISO strings.

/**
 * The signed-in user, from the page's `bridge-user` meta tag.
 * @typedef {object} User
 * @property {string} username
 * @property {string[]} roles
 */

/** @typedef {'quarantined' | 'approved' | 'rejected' | 'published' | 'uploaded' | 'retracted' | 'failed'} ImageState */
/** @typedef {'pending_review' | 'held' | 'auto_approved' | 'rejected'} Verdict */
/** @typedef {'approve' | 'reject' | 'undo'} DecisionAction */
/** @typedef {Record<string, number>} StateCounts */

/**
 * @template T
 * @typedef {object} ItemList
 * @property {T[]} items
 */

/**
 * @template T
 * @typedef {object} Page
 * @property {T[]} items
 * @property {string | null} next offset of the next page, null on the last
 * @property {number} [total] how many items the filters match in all (GET /review/images)
 */

/**
 * An item of GET /collections.
 * @typedef {object} Collection
 * @property {string} id
 * @property {string} owner
 * @property {string} collection the run collection name, u/<owner>/...
 * @property {string} [name] read in place of `collection` when that is missing
 * @property {string} status active, paused or retired
 * @property {{ images?: StateCounts }} [counts]
 */

/**
 * An item of GET /review/batches.
 * @typedef {object} Batch
 * @property {string} id
 * @property {string} collectionId
 * @property {number} seq
 * @property {string} createdAt
 * @property {{ pending: number, approved: number, rejected: number, total: number }} counts
 */

/**
 * @typedef {object} MatchedRule
 * @property {string} id
 * @property {string} description
 */

/**
 * @typedef {object} LastDecision
 * @property {string} action
 * @property {string} actor
 * @property {string} at
 * @property {string | null} reason
 */

/**
 * A grey per-band frame of a flipbook subject.
 * @typedef {object} Frame
 * @property {string} band
 * @property {string} previewUrl
 */

/**
 * An item of GET /review/images.
 * @typedef {object} ReviewImage
 * @property {string} id
 * @property {string} collectionId
 * @property {string} collectionName
 * @property {string} owner
 * @property {string | null} batchId
 * @property {number} stampIndex
 * @property {ImageState} state
 * @property {Verdict | null} verdict
 * @property {string[]} verdictReasons
 * @property {string | null} [recheckReason] why the image came back to review (its facts or extra metadata changed after a verdict)
 * @property {MatchedRule[]} matchedRules
 * @property {string} repository Butler repository the pixels come from
 * @property {string | null} dataRelease release derived by the bridge from the repository
 * @property {'mapping' | 'admin' | 'unmapped' | 'pi_claim'} releaseSource where dataRelease came from
 * @property {string} datasetType
 * @property {string | null} observedAt observation time (ISO 8601) from the cutout's header, null if unknown
 * @property {boolean} stripCoordinates
 * @property {string | null} policyVersion
 * @property {string | null} error
 * @property {number | null} ra
 * @property {number | null} dec
 * @property {'full' | 'position' | 'none'} wcsQuality
 * @property {string[]} bands
 * @property {string} preset
 * @property {number} width
 * @property {number} height
 * @property {string | null} previewUrl signed, short-lived quarantine media URL
 * @property {string} [previewExpiresAt] when previewUrl and the frames' URLs stop working (ISO 8601)
 * @property {string} [name] the image's name a reviewer can say (object id, or tract/patch/stamp and bands)
 * @property {string | null} [objectId] the PI's object id, if the metadata table gives one
 * @property {Record<string, string | number>} [dataId] the Butler dataId of the image's group (without band)
 * @property {string | null} [publishAfter] an approval publishes at this time (ISO 8601); Undo works until then
 * @property {Frame[]} frames
 * @property {boolean} canDecide false on the reviewer's own collection (separation of duties)
 * @property {LastDecision | null} lastDecision
 */

/**
 * One result of POST /review/decisions: each image succeeds or fails on its own.
 * @typedef {object} DecisionResult
 * @property {string} imageId
 * @property {boolean} ok
 * @property {ImageState} [state]
 * @property {string} [publishAfter] for approvals: when the image publishes (Undo until then)
 * @property {string} [error]
 */

/**
 * An item of GET /collections/:id/audit and GET /images/:id/audit.
 * @typedef {object} AuditEntry
 * @property {string} id
 * @property {string} at
 * @property {string} actor
 * @property {string} action
 * @property {string} imageId the entity the entry is about
 * @property {string | null} reason
 * @property {string | null} policyVersion
 * @property {unknown} detail
 * @property {string | null} [imageName] the image's name (object id, or tract/patch/stamp and bands) for entries about an image
 */

/**
 * One upload batch of GET /collections/:id/uploads.
 * @typedef {object} UploadBatch
 * @property {string} uploadBatchId
 * @property {number} seq
 * @property {string} mode
 * @property {string} state
 * @property {number} total
 * @property {number} linked
 * @property {string | null} error
 */

/**
 * GET /collections/:id/uploads: the collection's release progress.
 * @typedef {object} Uploads
 * @property {number} approved approved, not yet published
 * @property {number} published
 * @property {number} linked
 * @property {number} total
 * @property {boolean} settled nothing is on its way: poll slowly
 * @property {UploadBatch[]} items newest first
 */

/**
 * An RFC 9457 problem+json error body.
 * @typedef {object} Problem
 * @property {string} [code]
 * @property {string} [title]
 * @property {string} [detail]
 */

export {};
