// @ts-check
// The JSON shapes the admin page reads (src/api/collections-routes.ts,
// admin-routes.ts, project-binding-routes.ts, admin-overview-routes.ts).
// Types only: nothing imports this file at run time.

/**
 * An item of GET /collections, as far as the admin page reads it.
 * @typedef {object} AdminCollection
 * @property {string} id
 * @property {string} owner
 * @property {string} collection
 * @property {string} repository
 * @property {string} status
 * @property {string | null} dataRelease
 * @property {'mapping' | 'admin' | 'unmapped' | 'pi_claim'} releaseSource
 * @property {'none' | 'approved'} panelApproval
 * @property {number | null} publishDelaySeconds
 */

/**
 * An entry of GET /releases.
 * @typedef {object} ReleaseEntry
 * @property {string} label
 * @property {string} release
 * @property {boolean} prompt
 * @property {boolean} proprietary
 * @property {number} embargoHours
 */

/**
 * @typedef {object} ReleaseMapping
 * @property {'file' | 'built-in'} source
 * @property {string | null} file
 * @property {ReleaseEntry[]} items
 */

/**
 * @typedef {object} Delegation
 * @property {string} id
 * @property {string} username
 * @property {string} prefix
 * @property {string} grantedBy
 * @property {string} createdAt
 */

/**
 * @typedef {object} ProjectBinding
 * @property {string} username
 * @property {string} projectId
 * @property {string} approvedBy
 * @property {string} createdAt
 */

/**
 * An item of GET /project-binding-requests: a PI asking for a project.
 * @typedef {object} ProjectBindingRequest
 * @property {string} id
 * @property {string} username
 * @property {string} projectId
 * @property {string} reason
 * @property {string} createdAt
 */

/**
 * An item of GET /failures.
 * @typedef {object} StoppedItem
 * @property {'artifact' | 'stamp' | 'batch'} kind
 * @property {string} id
 * @property {string} collectionId
 * @property {string} collection
 * @property {string} owner
 * @property {string} state
 * @property {string | null} error
 * @property {string} at
 * @property {number | null} attempts
 * @property {string} [datasetId]
 * @property {string} [datasetType]
 * @property {Record<string, string | number>} [dataId]
 * @property {string} [groupKey]
 * @property {number} [stamp]
 * @property {string[]} [datasetIds]
 * @property {number} [seq]
 * @property {string} [mode]
 */

/**
 * @typedef {object} StoppedPage
 * @property {StoppedItem[]} items
 * @property {{ artifact: number, stamp: number, batch: number }} counts
 * @property {string | null} next
 */

export {};
