/**
 * Volunteer identity and classification order.
 *
 * A volunteer key is opaque: the Panoptes user id when logged in, else the
 * export's anonymous name ('not-logged-in-<hash>', one per browser session,
 * so an anonymous volunteer's repeats within a session are still caught),
 * else 'anon:<classification id>' (an anonymous API classification is its own
 * volunteer: nothing links it to another). Keys are prefixed so a user id can
 * never collide with a user name. Used for repeat filtering and SWAP skills.
 */
import type { RawClassification } from './types.js';

export function volunteerKey(c: Pick<RawClassification, 'id' | 'userId' | 'userName'>): string {
  if (c.userId !== null && c.userId !== undefined && c.userId !== '') return `user:${c.userId}`;
  if (c.userName) return `name:${c.userName}`;
  return `anon:${c.id}`;
}

/**
 * Compares Panoptes classification ids numerically without converting to
 * numbers (ids are decimal strings; a longer id is a later one). Non-numeric
 * ids fall back to string order, still a total order.
 */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length && isDigits(a) && isDigits(b)) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** Order by creation time (ISO or the export's 'YYYY-MM-DD HH:MM:SS UTC'), ties by id. */
export function compareCreated(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  return compareIds(a.id, b.id);
}

/**
 * How a classification id or a logged-in volunteer sits in a stored state:
 * as a number when the text is a canonical decimal of at most 15 digits (all
 * Panoptes ids; a number is exactly its text, and unpacks to it), otherwise
 * as the text. The running state holds one id per volunteer per subject and
 * one per mark: as numbers they parse and serialise several times faster
 * than strings and cost the garbage collector nothing (small integers are
 * not allocated), which made loading touched subjects twice as fast.
 */
export type Packed = number | string;

const CANONICAL = /^(?:0|[1-9]\d{0,14})$/;

export function packId(id: string): Packed {
  return CANONICAL.test(id) ? Number(id) : id;
}

export function unpackId(v: Packed): string {
  return typeof v === 'number' ? String(v) : v;
}

/** compareIds on packed ids (numbers are compared as numbers, which for canonical decimals is the same order). */
export function comparePacked(a: Packed, b: Packed): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareIds(unpackId(a), unpackId(b));
}

/** A volunteer key ("user:<id>", "name:...", "anon:...") packed: a logged-in user's canonical id as its number. */
export function packVolunteer(key: string): Packed {
  if (key.startsWith('user:')) {
    const id = key.slice(5);
    if (CANONICAL.test(id)) return Number(id);
  }
  return key;
}

/** A stored element of a packed list read back: an integer number or a string, else undefined (not a state). */
function readPacked(v: unknown, repack: (s: string) => Packed): Packed | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  return typeof v === 'string' ? repack(v) : undefined;
}

/**
 * A stored list read back packed (strings written before packing are
 * packed): in place when the caller owns it (an adopted state), else into a
 * copy. `repackOdd` packs the odd elements (a kept list's ids). Undefined
 * when an element is neither an id number nor a string.
 */
export function readPackedList(stored: unknown[], own: boolean, repack: (s: string) => Packed, repackOdd = repack): Packed[] | undefined {
  const out = own ? stored : new Array<unknown>(stored.length);
  for (let i = 0; i < stored.length; i++) {
    const p = readPacked(stored[i], i % 2 === 0 ? repack : repackOdd);
    if (p === undefined) return undefined;
    out[i] = p;
  }
  return out as Packed[];
}
