/**
 * The running (incremental) reduction: a JSON state that new classifications
 * update without re-reading old ones, as Caesar's "running" reducers.
 *
 * - Question and survey counts are additive.
 * - Repeats: "first" keeps, per subject, the kept classification id of each
 *   volunteer (the set of volunteers seen); "last" also keeps each
 *   volunteer's counted answers so that a newer classification can replace
 *   them; "all" keeps the highest id applied to the subject.
 * - DBSCAN is not incremental: each subject's marks are kept (MarkSet, flat
 *   number arrays) and only the subjects touched are re-clustered, when
 *   their reduction is asked for.
 * - SWAP: a skill record per volunteer (shared across subjects) and a
 *   posterior per subject.
 *
 * Order: classifications must be applied in increasing id order, which is
 * how the API pull delivers them (`last_id`, oldest first). A classification
 * that is not newer than what the state already holds for the same volunteer
 * and subject ("first", "last") or the same subject ("all") is ignored and
 * counted (`totals.stale`): that makes re-delivery after a crash harmless.
 * An export, which is not guaranteed sorted, should be reduced with
 * reduceAll or sorted first. Applied in id order, in any number of chunks,
 * the reductions equal reduceAll's exactly (tested).
 *
 * `JSON.stringify(reducer.state)` is what goes in the database column;
 * `RunningReducer.fromJSON` (or `adopt`, without a copy) reads it back
 * (running-state.ts). The state is plain data but for each subject's kept
 * volunteers (KeptVolunteers, which serialises itself as a flat list). Each
 * subject's part (`state.subjects[key]`) can also be stored on its own row;
 * SWAP volunteers live in `state.swapVolunteers`.
 */
import { extractInto, type ExtractOptions } from './extract.js';
import { addMarks, removeMarks, summariseDrawing } from './reduce-drawing.js';
import { answerOrder, checkOptions, dbscanOptions, subjectKey, type ReduceOptions, type SubjectReduction, type TaskReduction } from './reduce-options.js';
import { addQuestion, emptyQuestionCounts, summariseQuestion } from './reduce-question.js';
import { addSurvey, emptySurveyCounts, summariseSurvey } from './reduce-survey.js';
import { resolveSwap, swapApply, swapResult, type ResolvedSwapOptions } from './swap.js';
import { dict, type Dict, type Extract, type RawClassification, type RepeatMode, type Skip, type SurveyMark } from './types.js';
import { compareIds, packVolunteer, volunteerKey, type Packed } from './volunteer.js';
import { KeptVolunteers } from './kept-volunteers.js';
import { readState, type Contribution, type RunningState, type SubjectState } from './running-state.js';

export type { RunningState, SubjectState, TaskState } from './running-state.js';

/**
 * A subject as the reducer finds it: its key in `state.subjects` and whether
 * it changed since the last takeDirty. Kept beside the subject's state, not
 * on it: flags added to and deleted from the states themselves changed the
 * shape of thousands of objects per step (and `delete` turns an object into
 * a slow dictionary), which the incremental step paid for on every subject.
 */
interface Slot {
  readonly key: string;
  readonly s: SubjectState;
  dirty: boolean;
}

/** A volunteer's key (volunteerKey: SWAP skills, "last" contributions) and its packed form (kept lists). */
interface Volunteer {
  readonly key: string;
  readonly token: Packed;
}

const NO_SKIPS: Skip[] = Object.freeze([]) as unknown as Skip[];

export interface ApplyResult {
  /** Subjects whose reduction changed. */
  subjects: string[];
  skipped: Skip[];
}

export class RunningReducer {
  readonly state: RunningState;
  private readonly swap: ResolvedSwapOptions | undefined;
  /** The subjects changed since takeDirty, each once (its slot says so meanwhile). */
  private readonly dirty: Slot[] = [];
  private readonly extracts: Extract[] = [];
  private readonly skips: Skip[] = [];
  private readonly byUserId = new Map<string, Volunteer>();
  /** workflow -> subject id -> slot (see subjectSlot). */
  private readonly index = new Map<string, Map<string, Slot>>();
  /** Per workflow, the options extraction is given (one object, not one per classification). */
  private readonly extractOptions = new Map<string, ExtractOptions>();
  private readonly byUserName = new Map<string, Volunteer>();
  private readonly answerOrders = new Map<string, Map<string, string[] | undefined>>();

  constructor(
    private readonly options: ReduceOptions = {},
    state?: RunningState,
  ) {
    checkOptions(options);
    const repeats = options.repeats ?? 'first';
    if (state && state.repeats !== repeats) throw new Error(`stored state was reduced with repeats "${state.repeats}", not "${repeats}"`);
    this.state = state ?? {
      version: 1,
      repeats,
      subjects: dict(),
      swapVolunteers: dict(),
      totals: { classifications: 0, repeats: 0, stale: 0, skipped: 0, reasons: dict() },
    };
    this.swap = options.swap ? resolveSwap(options.swap) : undefined;
    if (state) for (const k of Object.keys(state.subjects)) {
      const sub = state.subjects[k];
      if (sub.kept !== undefined) sub.kept = KeptVolunteers.from(sub.kept);
      else if (repeats !== 'all') sub.kept = KeptVolunteers.empty();
    }
  }

  /**
   * Reads a stored state (a parsed JSON value or its text) back. The value is
   * not changed or kept: what the reducer will mutate is copied, and every
   * object keyed by data (answers, choices, tasks, volunteers) becomes a
   * dictionary that inherits nothing, so an answer called "constructor"
   * counts like any other.
   */
  static fromJSON(json: unknown, options: ReduceOptions = {}): RunningReducer {
    return typeof json === 'string' ? RunningReducer.read(JSON.parse(json), options, true) : RunningReducer.read(json, options, false);
  }

  /**
   * fromJSON without the copy: takes a stored state just parsed for it (the
   * service's rows) as its own, changing it in place. The caller must not use
   * the value afterwards. Copying every touched subject cost as much as
   * parsing it in the incremental step.
   */
  static adopt(value: unknown, options: ReduceOptions = {}): RunningReducer {
    return RunningReducer.read(value, options, true);
  }

  private static read(value: unknown, options: ReduceOptions, own: boolean): RunningReducer {
    return new RunningReducer(options, readState(value, own));
  }

  /** Applies one classification; says which subjects changed and what was skipped. */
  apply(c: RawClassification): ApplyResult {
    const touched: string[] = [];
    this.applyInto(c, touched);
    return { subjects: touched, skipped: this.skips.length ? this.skips.slice() : NO_SKIPS };
  }

  /**
   * Applies one classification and returns nothing: for callers that learn what changed from takeDirty
   * (the service, a whole export), which then allocate no result per classification.
   */
  feed(c: RawClassification): void {
    this.applyInto(c, null);
  }

  private applyInto(c: RawClassification, touched: string[] | null): void {
    const st = this.state;
    st.totals.classifications++;
    const extracts = this.extracts;
    const skipped = this.skips;
    extracts.length = 0;
    skipped.length = 0;
    const who = this.volunteerOf(c);
    const volunteer = who.key;
    let extractOptions = this.extractOptions.get(c.workflowId);
    if (!extractOptions) this.extractOptions.set(c.workflowId, (extractOptions = { tasks: this.options.workflows?.[c.workflowId] }));
    extractInto(c, extractOptions, extracts, skipped, volunteer);
    for (const s of skipped) {
      st.totals.skipped++;
      st.totals.reasons[s.reason] = (st.totals.reasons[s.reason] ?? 0) + 1;
    }
    for (const subjectId of c.subjectIds) {
      const slot = this.subjectSlot(c.workflowId, subjectId);
      const s = slot.s;
      if (!this.admit(s, c.id, who)) continue;
      const mine = st.repeats === 'last' ? (s.contrib![volunteer] = dict<Contribution>()) : undefined;
      for (const e of extracts) if (e.subjectId === subjectId) this.add(s, e, volunteer, mine, skipped);
      // A flag on the slot saves a lookup in a (large) dirty set for every classification of an already dirty subject.
      if (!slot.dirty) {
        slot.dirty = true;
        this.dirty.push(slot);
      }
      touched?.push(slot.key);
    }
  }

  /**
   * A subject's state, created when new. Found through a map per workflow
   * keyed by the subject id as the classification gives it: the state's own
   * dictionary is keyed by "workflow/subject", a string each lookup would
   * first have to build and have V8 look up among its property names.
   */
  private subjectSlot(workflowId: string, subjectId: string): Slot {
    let bySubject = this.index.get(workflowId);
    if (!bySubject) this.index.set(workflowId, (bySubject = new Map()));
    let slot = bySubject.get(subjectId);
    if (slot) return slot;
    const key = subjectKey(workflowId, subjectId);
    const s = this.state.subjects[key] ?? (this.state.subjects[key] = newSubject(workflowId, subjectId, this.state.repeats));
    slot = { key, s, dirty: false };
    bySubject.set(subjectId, slot);
    return slot;
  }

  /**
   * The volunteer's key (volunteerKey), one string per volunteer however many
   * subjects keep it: built afresh for each classification, the kept lists of
   * a million classifications would otherwise hold a million copies of twenty
   * thousand names. Looked up by the raw user id or name, so the key is built
   * once per volunteer rather than per classification. Anonymous keys
   * ('anon:<id>') are unique already and not kept here.
   */
  private volunteerOf(c: RawClassification): Volunteer {
    const byId = c.userId !== null && c.userId !== undefined && c.userId !== '';
    if (!byId && !c.userName) {
      const key = volunteerKey(c);
      return { key, token: key };
    }
    const table = byId ? this.byUserId : this.byUserName;
    const raw = byId ? c.userId! : c.userName!;
    const known = table.get(raw);
    if (known !== undefined) return known;
    // The copy V8 keeps as a property name ("internalized"): looking it up in the SWAP skills by name then
    // skips V8's string table, and comparing two such strings is comparing two pointers.
    const key = Object.keys({ [volunteerKey(c)]: 0 })[0];
    const v: Volunteer = { key, token: packVolunteer(key) };
    table.set(raw, v);
    return v;
  }

  /** Applies many; returns the subjects touched. */
  applyAll(cs: Iterable<RawClassification>): Set<string> {
    const out = new Set<string>();
    for (const c of cs) for (const k of this.apply(c).subjects) out.add(k);
    return out;
  }

  /** Decides whether a classification counts for this subject under the repeat rule, retracting a replaced one. */
  private admit(s: SubjectState, id: string, volunteer: Volunteer): boolean {
    const t = this.state.totals;
    if (this.state.repeats === 'all') {
      if (s.last !== undefined && compareIds(id, s.last) <= 0) return (t.stale++, false);
      s.last = id;
      s.n++;
      return true;
    }
    // One search of the kept list for both the question and the answer (it is scanned for every classification).
    const kept = s.kept!;
    const slot = kept.slotOf(volunteer.token);
    if (slot >= 0) {
      const prev = kept.idAt(slot);
      if (compareIds(id, prev) <= 0) return (t.stale++, false);
      if (this.state.repeats === 'first') return (t.repeats++, false);
      this.retract(s, volunteer.key, prev);
      t.repeats++;
      kept.setAt(slot, id);
    } else {
      s.n++;
      kept.add(volunteer.token, id);
    }
    return true;
  }

  private retract(s: SubjectState, volunteer: string, id: string): void {
    const c = s.contrib![volunteer];
    for (const task in c) {
      const ts = s.tasks[task];
      const v = c[task];
      if (ts.kind === 'question') addQuestion(ts, v as string[], -1);
      else if (ts.kind === 'survey') addSurvey(ts, v as SurveyMark[], -1);
      else {
        ts.n--;
        removeMarks(ts.sets, id);
      }
      // A task the replacing classification may not answer must vanish as if never counted.
      if (ts.n === 0) delete s.tasks[task];
    }
    delete s.contrib![volunteer];
  }

  private add(s: SubjectState, e: Extract, volunteer: string, mine: Dict<Contribution> | undefined, skipped: Skip[]): void {
    let ts = s.tasks[e.task];
    if (!ts) ts = s.tasks[e.task] = e.kind === 'question' ? emptyQuestionCounts(e.multiple) : e.kind === 'survey' ? emptySurveyCounts() : { kind: 'drawing', n: 0, sets: dict() };
    if (ts.kind !== e.kind) {
      const reason = `task ${e.task} was a ${ts.kind} task, now a ${e.kind}`;
      skipped.push({ classificationId: e.classificationId, task: e.task, reason });
      this.state.totals.skipped++;
      this.state.totals.reasons[reason] = (this.state.totals.reasons[reason] ?? 0) + 1;
      return;
    }
    if (ts.kind === 'question' && e.kind === 'question') {
      addQuestion(ts, e.answers);
      if (mine) mine[e.task] = e.answers;
      const o = this.swap;
      if (o && e.task === o.task && (o.workflowId === undefined || o.workflowId === e.workflowId)) {
        s.swap ??= { p: o.prior, n: 0, yes: 0 };
        swapApply(s.swap, this.state.swapVolunteers, volunteer, e.subjectId, e.answers, o);
      }
    } else if (ts.kind === 'survey' && e.kind === 'survey') {
      addSurvey(ts, e.choices);
      if (mine) mine[e.task] = e.choices;
    } else if (ts.kind === 'drawing' && e.kind === 'drawing') {
      ts.n++;
      addMarks(ts.sets, e.classificationId, e.marks);
      if (mine) mine[e.task] = 1;
    }
  }

  /** Keys of the subjects changed since the last call (to write back and re-reduce only those). */
  takeDirty(): string[] {
    const out = this.dirty.splice(0);
    const keys: string[] = new Array<string>(out.length);
    for (let i = 0; i < out.length; i++) {
      out[i].dirty = false;
      keys[i] = out[i].key;
    }
    return keys;
  }

  subjectKeys(): string[] {
    return Object.keys(this.state.subjects);
  }

  /** The reduction of one subject (re-clusters its marks). */
  reduction(key: string): SubjectReduction | undefined {
    const s = this.state.subjects[key];
    if (!s) return undefined;
    const tasks = dict<TaskReduction>();
    const sky = this.options.skyFor?.(s.subjectId);
    for (const task of Object.keys(s.tasks).sort()) {
      const ts = s.tasks[task];
      if (ts.kind === 'question') tasks[task] = summariseQuestion(ts, this.answerOrder(s.workflowId, task));
      else if (ts.kind === 'survey') tasks[task] = summariseSurvey(ts);
      else tasks[task] = summariseDrawing(ts.n, ts.sets, dbscanOptions(this.options), sky);
    }
    const out: SubjectReduction = { workflowId: s.workflowId, subjectId: s.subjectId, classifications: s.n, tasks };
    if (s.swap && this.swap) out.swap = swapResult(s.swap, this.swap, s.subjectId);
    return out;
  }

  /** The workflow's answer list for a question, the same array each time (summariseQuestion caches its ranker by it). */
  private answerOrder(workflowId: string, task: string): string[] | undefined {
    let byTask = this.answerOrders.get(workflowId);
    if (!byTask) this.answerOrders.set(workflowId, (byTask = new Map()));
    if (!byTask.has(task)) byTask.set(task, answerOrder(this.options, workflowId, task));
    return byTask.get(task);
  }

  /** Every subject's reduction, in key order. */
  reductions(): SubjectReduction[] {
    return this.subjectKeys()
      .sort()
      .map((k) => this.reduction(k)!);
  }

  toJSON(): RunningState {
    return this.state;
  }
}

function newSubject(workflowId: string, subjectId: string, repeats: RepeatMode): SubjectState {
  const s: SubjectState = { workflowId, subjectId, n: 0, tasks: dict() };
  if (repeats !== 'all') s.kept = KeptVolunteers.empty();
  if (repeats === 'last') s.contrib = dict();
  return s;
}
