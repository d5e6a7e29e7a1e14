/**
 * Volunteer -> counted classification id of one subject, in memory and in
 * JSON a flat list [volunteer, id, volunteer, id, ...]. An object keyed by
 * volunteers (how version 1 states were first written, still read) is
 * several times slower to JSON.parse: every subject has its own set of
 * keys, and V8 builds hidden classes for each; and loading the touched
 * subjects' rows is the incremental run's main cost. Most subjects have a
 * few dozen volunteers, which a linear scan finds fastest and a list holds
 * smallest; past LINEAR volunteers a Map index is built beside it.
 */
export class KeptVolunteers {
  private static readonly LINEAR = 48;
  private readonly list: string[];
  private index: Map<string, number> | undefined;

  private constructor(list: string[]) {
    this.list = list;
  }

  static empty(): KeptVolunteers {
    return new KeptVolunteers([]);
  }

  /** From the stored form: the flat list, or a volunteer -> id object. */
  static from(stored: unknown): KeptVolunteers {
    if (stored instanceof KeptVolunteers) return stored;
    if (Array.isArray(stored)) {
      if (stored.length % 2 !== 0) throw new Error("not a results state: a subject's kept list has an odd length");
      for (const x of stored) if (typeof x !== 'string') throw new Error("not a results state: a subject's kept list holds a non-string");
      return new KeptVolunteers(stored as string[]);
    }
    if (stored !== null && typeof stored === 'object') {
      const list: string[] = [];
      for (const v of Object.keys(stored)) list.push(v, String((stored as Record<string, unknown>)[v]));
      return new KeptVolunteers(list);
    }
    throw new Error("not a results state: a subject's kept volunteers are neither a list nor an object");
  }

  /** Where the volunteer sits (for idAt/setAt), or -1. */
  slotOf(volunteer: string): number {
    return this.find(volunteer);
  }

  idAt(slot: number): string {
    return this.list[slot + 1];
  }

  setAt(slot: number, id: string): void {
    this.list[slot + 1] = id;
  }

  /** Adds a volunteer known to be absent (slotOf said -1). */
  add(volunteer: string, id: string): void {
    this.index?.set(volunteer, this.list.length);
    this.list.push(volunteer, id);
  }

  private find(volunteer: string): number {
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

  get(volunteer: string): string | undefined {
    const i = this.find(volunteer);
    return i < 0 ? undefined : this.list[i + 1];
  }

  set(volunteer: string, id: string): void {
    const i = this.find(volunteer);
    if (i >= 0) this.setAt(i, id);
    else this.add(volunteer, id);
  }

  get size(): number {
    return this.list.length / 2;
  }

  toJSON(): string[] {
    return this.list;
  }
}
