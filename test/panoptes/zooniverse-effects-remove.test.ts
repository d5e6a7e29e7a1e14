import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/domain/errors.js';
import { panoptesDoublePerTest } from '../support/panoptes-double-per-test.js';
import { resultsAdapters } from '../support/results-adapters.js';

/*
 * Undoing an addition to a set (a results rule's add_subject_to_set):
 * DELETE /subject_sets/ID/links/subjects/a,b with the set's ETag, over real
 * HTTP against the Panoptes double. Removing is idempotent, so a repeat (or
 * a retry after a lost answer) changes nothing.
 */
const double = panoptesDoublePerTest();

describe('removing subjects from a set', () => {
  it('unlinks only the subjects asked, with If-Match, and a second removal is harmless', async () => {
    const set = double.server.seedSubjectSet({ displayName: 'DP1' });
    const expert = double.server.seedSubjectSet({ displayName: 'Expert review' });
    const subjects = double.server.seedSubjects(set.id, 3).map((s) => s.id);
    const { effects } = resultsAdapters(double.server);
    await effects.addSubjectsToSet(expert.id, subjects);

    await effects.removeSubjectsFromSet(expert.id, [subjects[0], subjects[2], subjects[0]]);
    expect(double.server.setMembers(expert.id)).toEqual([subjects[1]]);
    const sent = double.server.requestsTo('unlinkSubjects');
    expect(sent.map((r) => [r.path, r.status])).toEqual([[`/api/subject_sets/${expert.id}/links/subjects/${subjects[0]},${subjects[2]}`, 204]]);
    expect(sent[0].headers['if-match']).toEqual(expect.any(String));
    // The subjects stay in their own set.
    expect(double.server.setMembers(set.id)).toEqual(subjects);

    await effects.removeSubjectsFromSet(expert.id, [subjects[0]]);
    expect(double.server.setMembers(expert.id)).toEqual([subjects[1]]);
    expect(await effects.setMembers(expert.id, subjects)).toEqual(new Set([subjects[1]]));
  });

  it('refuses ids that are not Panoptes ids before sending anything', async () => {
    const expert = double.server.seedSubjectSet({ displayName: 'Expert review' });
    const { effects } = resultsAdapters(double.server);
    await expect(effects.removeSubjectsFromSet(expert.id, ['1,2'])).rejects.toBeInstanceOf(ValidationError);
    await expect(effects.removeSubjectsFromSet('set-9', ['1'])).rejects.toBeInstanceOf(ValidationError);
    expect(double.server.requestsTo('unlinkSubjects')).toHaveLength(0);
  });
});
