import { UpstreamError } from './errors.js';
import type { LedgerItem } from './ports/upload-ledger-repository.js';
import type { SubjectLinker } from './upload-linking.js';
import { compareIds } from './upload-reconcile.js';
import { pool, type UploadRun } from './upload-run.js';

/** Subject ids per membership request (Panoptes' page size), and such requests in flight at once. */
const MEMBERSHIP_CHUNK = 100;
const MEMBERSHIP_CONCURRENCY = 4;

/**
 * Every linked ledger subject must be a member of the set; any that is not
 * is linked again (twice at most). Membership is asked for our ids, 100 per
 * request, several requests at once. When the set holds exactly as many
 * subjects as the ledgers using it have linked, there is nothing else in
 * it, so no duplicate; otherwise (another batch still running, Panoptes'
 * count trailing, or extra subjects) the full member listing is read and
 * duplicates by external_id among our subjects are noted on the run.
 */
export async function verifyMembership(run: UploadRun, linker: SubjectLinker): Promise<void> {
  const { panoptes, setId, batch } = run;
  const ledger = run.repos.ledger;
  for (let pass = 1; ; pass++) {
    const linked = await ledger.items(batch.id, ['linked']);
    const [set, expected] = await Promise.all([panoptes.getSubjectSet(setId), ledger.countLinkedInSet(setId)]);
    const members = new Set<string>();
    const chunks: string[][] = [];
    for (let i = 0; i < linked.length; i += MEMBERSHIP_CHUNK) chunks.push(linked.slice(i, i + MEMBERSHIP_CHUNK).map((r) => r.subject_id!));
    await pool(chunks, MEMBERSHIP_CONCURRENCY, () => false, async (ids) => {
      for await (const s of panoptes.findSubjects({ subjectSetId: setId, ids })) members.add(s.id);
    });
    const missing = linked.filter((i) => !members.has(i.subject_id!));
    if (!missing.length) {
      if (set.setMemberSubjectsCount !== expected) await findDuplicatesInSet(run, linked, set.setMemberSubjectsCount, expected);
      return;
    }
    if (pass > 2) throw new UpstreamError(`${missing.length} subjects of upload batch ${batch.seq} are not in subject set ${setId} after linking them again`);
    run.log.warn({ uploadBatchId: batch.id, missing: missing.length }, 'linked subjects missing from the set: linking again');
    // Imported subjects that are not in the set are linked back like any other.
    await ledger.recordUnlinked(missing.map((m) => m.id));
    await linker.linkAllCreated();
  }
}

async function findDuplicatesInSet(run: UploadRun, linked: LedgerItem[], counted: number, expected: number): Promise<void> {
  run.log.info({ uploadBatchId: run.batch.id, counted, expected }, 'subject set count differs from the ledgers: reading the whole set');
  const mine = new Set(linked.map((i) => i.external_id));
  const byExternal = new Map<string, string[]>();
  for await (const s of run.panoptes.findSubjects({ subjectSetId: run.setId })) {
    if (s.externalId !== null && mine.has(s.externalId)) byExternal.set(s.externalId, [...(byExternal.get(s.externalId) ?? []), s.id]);
  }
  for (const [ext, ids] of byExternal) if (ids.length > 1) run.duplicates.set(ext, ids.sort(compareIds));
}
