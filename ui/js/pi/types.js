// @ts-check
// The JSON shapes the PI page reads (src/api/collections-routes.ts,
// preview-routes.ts, pi-routes.ts, retry-routes.ts). Types only.

/**
 * A collection as GET /collections and GET /collections/:id send it.
 * @typedef {object} PiCollection
 * @property {string} id
 * @property {string} owner
 * @property {string} repository
 * @property {string} collection
 * @property {string} sourceKind
 * @property {string} datasetType
 * @property {string[] | null} rgb
 * @property {{ preset?: string }} colour
 * @property {string | null} zooniverseProjectId
 * @property {string | null} subjectSetNaming
 * @property {'import' | 'api'} uploadMode
 * @property {number} maxBatchSize
 * @property {'batch' | 'collection'} subjectSetPer
 * @property {boolean} subjectFrames
 * @property {boolean} oneIncompleteSet
 * @property {unknown} extraMetadata
 * @property {number} pollIntervalSeconds
 * @property {string} status
 * @property {string | null} dataRelease
 * @property {string} releaseSource
 * @property {string} panelApproval
 * @property {string | null} lastPolledAt
 * @property {string | null} lastPollError
 * @property {string} createdAt
 * @property {Record<string, unknown>} [counts] images per state (list), or { artifacts, images } per state (one)
 */

/**
 * One rendering of POST /collections/preview.
 * @typedef {object} PreviewImage
 * @property {string} preset
 * @property {number} width
 * @property {number} height
 * @property {string | null} dataUrl
 * @property {string | null} error
 */

/**
 * @typedef {object} Preview
 * @property {string} collection
 * @property {string} datasetType
 * @property {string[]} channels
 * @property {{ id: string, band: string, dataId: Record<string, string | number> }[]} datasets
 * @property {number} stampsInSet
 * @property {string[]} presets
 * @property {{ index: number, images: PreviewImage[] }[]} stamps
 */

/**
 * An item of GET /me/events.
 * @typedef {object} PiEvent
 * @property {string} id
 * @property {string} kind
 * @property {string} at
 * @property {string} collectionId
 * @property {string} collectionName
 * @property {Record<string, unknown>} data
 * @property {string | null} deliveredAt
 * @property {string | null} deliveryError
 */

/**
 * A problem+json body with the fields validation errors carry.
 * @typedef {object} FieldProblem
 * @property {string} [code]
 * @property {string} [title]
 * @property {string} [detail]
 * @property {string} [field]
 * @property {{ field: string, message: string }[]} [issues]
 */

export {};
