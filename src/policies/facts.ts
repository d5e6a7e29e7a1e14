import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { KIND, type TypeShape } from './caesar.js';

/**
 * What a policy rule can look at for one image. Keys are snake_case because
 * policy authors write them: `["lookup", "dataset.age_hours"]`. Every key is
 * always present; "unknown" is null, never a missing key, so a rule can give
 * `lookup` a default for it.
 */
export interface PolicyFacts {
  collection: {
    /** The bridge's id of the registered run collection. */
    id: string;
    /** The Butler run collection, e.g. `u/alien/zooniverse-1`. */
    name: string;
    /** RSP username of the PI who registered it. */
    owner: string;
    /** The collection's Data Rights Panel approval tier: `approved` lifts the pre-approval limits. */
    panel_approval: 'none' | 'approved';
  };
  owner: {
    /** RSP username (Gafaelfawr `sub`). */
    username: string;
    /** Releases the owner holds data rights for: Gafaelfawr's space-separated `data_rights` claim, split, e.g. ["dp1", "dr1"]. */
    data_rights: string[];
  };
  dataset: {
    /** Butler dataset type, e.g. `zooniverse_cutout`. */
    type: string;
    /** Data release the pixels come from, lower case: `dp1`, `dr1`, ... or `prompt` for prompt products. */
    release: string;
    /** Bands in the image, e.g. ["g", "r", "i"]. */
    bands: string[];
    /** When the pixels were observed (ISO 8601), or null if not known. */
    observed_at: string | null;
    /** Hours from observed_at to the evaluation, or null if not known (see ageHours). */
    age_hours: number | null;
  };
  cutout: {
    /** Rendered image size in pixels. */
    width: number;
    height: number;
  };
  position: {
    /** `full`: a sky WCS; `position`: only a centre RA/Dec; `none`: no position at all. */
    wcs_quality: 'full' | 'position' | 'none';
    /** Centre, degrees (ICRS), or null without a position. */
    ra: number | null;
    dec: number | null;
  };
  counts: {
    /** Images in this image's batch (the set being submitted together), this one included. */
    batch: number;
    /** This image's place in its batch, 1-based, in submission order: what per-batch caps count. */
    batch_position: number;
    /** Images of this collection that entered the bridge today (UTC) before this batch. */
    collection_today: number;
    /**
     * Images of this collection already published, or approved and waiting
     * to be, before this batch: what per-collection caps count from.
     */
    collection_published: number;
  };
}

const name = z.string().min(1);
const count = z.int().min(0);

export const policyFactsSchema: z.ZodType<PolicyFacts> = z.strictObject({
  collection: z.strictObject({ id: name, name, owner: name, panel_approval: z.enum(['none', 'approved']) }),
  owner: z.strictObject({ username: name, data_rights: z.array(name) }),
  dataset: z.strictObject({
    type: name,
    release: name,
    bands: z.array(name),
    observed_at: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO 8601 time')
      .nullable(),
    age_hours: z.number().nullable(),
  }),
  cutout: z.strictObject({ width: z.int().positive(), height: z.int().positive() }),
  position: z.strictObject({
    wcs_quality: z.enum(['full', 'position', 'none']),
    ra: z.number().nullable(),
    dec: z.number().min(-90).max(90).nullable(),
  }),
  counts: z
    .strictObject({ batch: z.int().min(1), batch_position: z.int().min(1), collection_today: count, collection_published: count })
    .refine((c) => c.batch_position <= c.batch, { message: 'batch_position is beyond batch', path: ['batch_position'] }),
});

/** Checks facts built by a caller; a mistake here is a bug in the caller, named field by field. */
export function parseFacts(input: unknown): PolicyFacts {
  const r = policyFactsSchema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(facts)'}: ${i.message}`);
  throw new ValidationError(`invalid policy facts: ${problems.join('; ')}`, { problems });
}

/** Hours between observation and `now`; null when the observation time is unknown. */
export function ageHours(observedAt: string | null, now: Date): number | null {
  if (observedAt === null) return null;
  const t = Date.parse(observedAt);
  return Number.isNaN(t) ? null : (now.getTime() - t) / 3_600_000;
}

const { number: NUM, string: STR, null: NULL, array: ARR, object: OBJ } = KIND;
const str: TypeShape = { kinds: STR };
const num: TypeShape = { kinds: NUM };
const obj = (fields: Record<string, TypeShape>): TypeShape => ({ kinds: OBJ, fields });

/** The static shape of PolicyFacts, so rules naming unknown facts fail at load time. */
export const FACTS_SHAPE: TypeShape = obj({
  collection: obj({ id: str, name: str, owner: str, panel_approval: str }),
  owner: obj({ username: str, data_rights: { kinds: ARR, elements: str } }),
  dataset: obj({ type: str, release: str, bands: { kinds: ARR, elements: str }, observed_at: { kinds: STR | NULL }, age_hours: { kinds: NUM | NULL } }),
  cutout: obj({ width: num, height: num }),
  position: obj({ wcs_quality: str, ra: { kinds: NUM | NULL }, dec: { kinds: NUM | NULL } }),
  counts: obj({ batch: num, batch_position: num, collection_today: num, collection_published: num }),
});
