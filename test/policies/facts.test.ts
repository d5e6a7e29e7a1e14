import { describe, expect, it } from 'vitest';
import { kindOf, resolveShape } from '../../src/policies/caesar.js';
import { FACTS_SHAPE, ageHours, parseFacts } from '../../src/policies/facts.js';
import { facts } from './helpers.js';

/** Every leaf path of a value, dotted, with the value. */
function leaves(v: unknown, prefix = ''): Array<[string, unknown]> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => leaves(x, prefix ? `${prefix}.${k}` : k));
  return [[prefix, v]];
}

describe('facts', () => {
  it('FACTS_SHAPE describes every fact the schema accepts, so static checks know them all', () => {
    const samples = [facts(), facts({ dataset: { observed_at: null, age_hours: null }, position: { wcs_quality: 'none', ra: null, dec: null } })];
    for (const f of samples) {
      for (const [path, v] of leaves(parseFacts(f))) {
        const shape = resolveShape(FACTS_SHAPE, path);
        expect(shape, path).not.toHaveProperty('error');
        expect(((shape as { kinds: number }).kinds & kindOf(v)) !== 0, `${path} accepts ${JSON.stringify(v)}`).toBe(true);
      }
    }
  });

  it('refuses malformed facts, naming each field', () => {
    expect(() => parseFacts({ ...facts(), cutout: { width: 0, height: 1.5 } })).toThrow(/cutout\.width: .*; cutout\.height: /);
    expect(() => parseFacts({ ...facts(), collection: { ...facts().collection, panel_approval: 'pending' } })).toThrow(/collection\.panel_approval/);
    expect(() => parseFacts({ ...facts(), dataset: { ...facts().dataset, age_hours: Number.NaN } })).toThrow(/dataset\.age_hours/);
  });

  it('ageHours counts hours since observation, null when unknown', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    expect(ageHours('2026-11-23T02:00:00Z', now)).toBe(10);
    expect(ageHours('2026-11-20T12:00:00Z', now)).toBe(72);
    expect(ageHours(null, now)).toBeNull();
    expect(ageHours('not a date', now)).toBeNull();
  });
});
