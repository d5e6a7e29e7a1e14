import { describe, expect, it } from 'vitest';
import { dataIdOf, imageName, placeName } from '../../src/domain/image-name.js';
import { explainOutcomes } from '../../src/domain/collection-why.js';
import { parseExtraMetadataTable } from '../../src/domain/extra-metadata-table.js';

/** The pure halves of image names and "why": the rest is over HTTP in review-names.test.ts. */
describe('image names', () => {
  it('say the place from the dataId (no band, no skymap, no #zip suffix), the stamp and the bands blue to red', () => {
    expect(placeName({ group_key: '{"patch":42,"skymap":"lsst_cells_v1","tract":9813}', stamp_index: 3, bands: ['i', 'r', 'g'] })).toBe('tract 9813 · patch 42 · stamp 3 · gri');
    expect(placeName({ group_key: '{"detector":12,"instrument":"LSSTCam","visit":2025120100123}#zip:7f3c', stamp_index: 0, bands: ['r'] })).toBe('visit 2025120100123 · detector 12 · instrument LSSTCam · stamp 0 · r');
    expect(dataIdOf('{"patch":42,"tract":9813}#zip:abc')).toEqual({ patch: 42, tract: 9813 });
    expect(imageName({ group_key: '{"tract":1}', stamp_index: 2, bands: [] }, '123')).toBe('object 123');
    expect(imageName({ group_key: '{"tract":1}', stamp_index: 2, bands: [] }, { id: '123', unique: false })).toBe('object 123 · tract 1 · stamp 2');
  });

  it('keep 64-bit object ids exact in the extra-metadata table', () => {
    expect(parseExtraMetadataTable('object,diaObjectId,score\n1,1567428592185376787,12\n')['1']).toEqual({ diaObjectId: '1567428592185376787', score: 12 });
  });
});

describe('why: next steps from the shipped policy', () => {
  const c = { data_release: 'dr1', release_embargo_hours: 0 };
  const now = new Date('2026-12-06T12:00:00Z');
  it('names caps, data rights, review, and falls back for rules it does not know', () => {
    const groups = explainOutcomes(
      c,
      [
        { outcome: 'rejected', rules: ['pre-approval-limit', 'epo-review'], reason: 'over the per-collection cap: max_per_collection is 100 (rule "pre-approval-limit")', count: 7, newestObservedAt: null },
        { outcome: 'rejected', rules: ['owner-holds-data-rights'], reason: "the collection's owner holds no data rights for this data release", count: 3, newestObservedAt: null },
        { outcome: 'pending_review', rules: ['epo-review'], reason: 'every image is checked by an EPO reviewer before publication', count: 2, newestObservedAt: null },
        { outcome: 'held', rules: ['site-rule'], reason: 'waiting for something', count: 1, newestObservedAt: null },
        { outcome: 'auto_approved', rules: ['fine'], reason: 'ok', count: 1, newestObservedAt: null },
      ],
      now,
    );
    expect(groups[0].nextStep).toBe('the cap of 100 images per collection before Data Rights Panel approval (rule pre-approval-limit) is reached: ask the Data Rights Panel to approve this collection (an EPO admin records it)');
    expect(groups[1].nextStep).toBe('the owner needs data rights for dr1');
    expect(groups[2].nextStep).toMatch(/EPO reviewer/);
    expect(groups[3].nextStep).toMatch(/^held by the policy \(site-rule\)/);
    expect(groups[4].nextStep).toBeNull();
  });

  it('gives the embargo end of the newest image, and says when it has passed', () => {
    const [open, over] = explainOutcomes(
      { data_release: 'prompt', release_embargo_hours: 0 },
      [
        { outcome: 'rejected', rules: ['prompt-embargo'], reason: 'prompt data is under its 80-hour embargo', count: 2, newestObservedAt: new Date('2026-12-06T00:00:00Z') },
        { outcome: 'rejected', rules: ['prompt-embargo'], reason: 'prompt data is under its 80-hour embargo', count: 1, newestObservedAt: new Date('2026-12-01T00:00:00Z') },
      ],
      now,
    );
    expect(open).toMatchObject({ until: '2026-12-09T08:00:00.000Z', nextStep: 'embargo ends 2026-12-09 08:00 UTC' });
    expect(over.nextStep).toMatch(/^embargo ended 2026-12-04 08:00 UTC/);
  });
});
