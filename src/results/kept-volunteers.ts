/**
 * Volunteer -> counted classification id of one subject, in memory and in
 * JSON a flat list [volunteer, id, volunteer, id, ...], both packed
 * (volunteer.ts: a logged-in volunteer and a Panoptes id are numbers). An
 * object keyed by volunteers (how version 1 states were first written) is
 * several times slower to JSON.parse: every subject has its own set of
 * keys, and V8 builds hidden classes for each; and loading the touched
 * subjects' rows is the incremental run's main cost. Lists of strings
 * ("user:7", "12") written before packing are read and packed. Most
 * subjects have a few dozen volunteers, which a linear scan finds fastest
 * and a list holds smallest; past LINEAR volunteers a Map index is built
 * beside it.
 */
import { packId, packVolunteer, readPackedList, unpackId, type Packed } from './volunteer.js';

export class KeptVolunteers {
  private static readonly LINEAR = 48;
  private readonly list: Packed[];
  private index: Map<Packed, number> | undefined;

  private constructor(list: Packed[]) {
    this.list = list;
  }

  static empty(): KeptVolunteers {
    return new KeptVolunteers([]);
  }

  /** From the stored form: the flat list, or a volunteer -> id object. A copy, unless `own` (the list is then packed in place and kept). */
  static from(stored: unknown, own = false): KeptVolunteers {
    if (stored instanceof KeptVolunteers) return stored;
    if (Array.isArray(stored)) {
      if (stored.length % 2 !== 0) throw new Error("not a results state: a subject's kept list has an odd length");
      const list = readPackedList(stored, own, packVolunteer, packId);
      if (!list) throw new Error("not a results state: a subject's kept list holds something other than volunteers and ids");
      return new KeptVolunteers(list);
    }
    if (stored !== null && typeof stored === 'object') {
      const list: Packed[] = [];
      for (const v of Object.keys(stored)) list.push(packVolunteer(v), packId(String((stored as Record<string, unknown>)[v])));
      return new KeptVolunteers(list);
    }
    throw new Error("not a results state: a subject's kept volunteers are neither a list nor an object");
  }

  /** Where the (packed) volunteer sits (for idAt/setAt), or -1. */
  slotOf(volunteer: Packed): number {
    const l = this.list;
    if (l.length <= 2 * KeptVolunteers.LINEAR) {
      for (let i = 0; i < l.length; i += 2) if (l[i] === volunteer) return i;
      return -1;
    }
    if (!this.index) {
      this.index = new Map();
      for (let i = 0; i < l.length; i += 2) this.index.set(l[i], i);
    }
    return this.index.get(volunteer) ?? -1;
  }

  /** The classification id counted at a slot, as text. */
  idAt(slot: number): string {
    return unpackId(this.list[slot + 1]);
  }

  setAt(slot: number, id: string): void {
    this.list[slot + 1] = packId(id);
  }

  /** Adds a volunteer known to be absent (slotOf said -1). */
  add(volunteer: Packed, id: string): void {
    this.index?.set(volunteer, this.list.length);
    this.list.push(volunteer, packId(id));
  }

  get size(): number {
    return this.list.length / 2;
  }

  toJSON(): Packed[] {
    return this.list;
  }
}
