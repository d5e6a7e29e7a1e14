import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { KIND, type TypeShape } from './caesar.js';

/*
 * Where every fact comes from, and whether a PI can steer it. A permissive
 * outcome of the shipped policy (policies/rubin-default.yaml) rests only on
 * facts the PI cannot set; see README "Security model".
 *
 * | fact                        | source                                                                 | PI can set? |
 * |-----------------------------|------------------------------------------------------------------------|-------------|
 * | collection.id               | bridge (registration)                                                  | no |
 * | collection.name             | PI's registration, checked: under u/<own username>/ or a delegated prefix | chooses a name, not whose |
 * | collection.owner            | bridge (ownership check at registration)                               | no |
 * | collection.panel_approval   | admin (POST .../panel-approval, audited)                               | no |
 * | owner.username              | identity provider (Gafaelfawr `sub`)                                   | no |
 * | owner.data_rights           | identity provider (`data_rights` claim of the owner's own token: at registration, then at each of their requests) | no |
 * | dataset.type                | PI's registration (datasetType); the Butler query filters on it; no shipped rule reads it | yes (PI claim) |
 * | dataset.release             | release mapping (RELEASES_FILE) from the repository label, or an admin | no (see note) |
 * | dataset.release_source      | bridge: mapping / admin / unmapped / pi_claim (legacy rows)           | no |
 * | dataset.proprietary         | release mapping (unmapped: true)                                       | no |
 * | dataset.embargo_hours       | release mapping (unmapped: 80)                                         | no |
 * | dataset.bands               | PI's registration (bands to render); no shipped rule reads it          | yes (PI claim) |
 * | dataset.observed_at         | FITS header DATE-OBS/MJD-OBS of the cutout (conversion); null if absent | the PI's producer writes the header |
 * | dataset.age_hours           | bridge: Clock minus observed_at; null if unknown (rules default it to 0 = just observed) | via observed_at |
 * | cutout.width, height        | conversion (the rendered PNG)                                          | no |
 * | position.*                  | FITS WCS / RA_DEG, DEC_DEG of the cutout (conversion)                  | the PI's producer writes them; only used to strip, never to admit |
 * | counts.*                    | bridge (database counts at evaluation)                                 | no |
 *
 * Note on the release: the repository label is chosen by the PI, but for
 * Butler sources the bridge reads the pixels from that very repository with
 * EPO's account, so the label names where the data comes from. For prefix
 * sources (retrieve-artifacts output under ARTIFACT_ROOT) nothing ties the
 * files to the label: the operator who fills ARTIFACT_ROOT vouches for it.
 * Changing facts: a panel approval, a release override or remapping, a new
 * policy file and new owner data rights re-judge the images the policy
 * decided (src/domain/reevaluation.ts); a reviewer's decision stands.
 * Note on observation time: a header can claim any date. The shipped policy
 * uses age only to end the 80-hour embargo of prompt data, which stays
 * proprietary (panel approval and EPO review still needed); unknown age never
 * counts as old.
 */

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
    /**
     * Data release the pixels come from, lower case: `dp1`, `dr1`, ... or
     * `prompt` for prompt products; `unknown` for a repository the operator's
     * mapping does not name. Derived by the bridge from the repository label,
     * never stated by the PI.
     */
    release: string;
    /** Where `release` came from: `mapping` (RELEASES_FILE), `admin` (audited override), `unmapped`, or `pi_claim` (collections registered before the PI lost that say). */
    release_source: 'mapping' | 'admin' | 'unmapped' | 'pi_claim';
    /** The release is proprietary according to the operator's mapping (unknown: true). */
    proprietary: boolean;
    /** Hours after observation during which the release may not be published, from the mapping (unknown: 80). */
    embargo_hours: number;
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
    release_source: z.enum(['mapping', 'admin', 'unmapped', 'pi_claim']),
    proprietary: z.boolean(),
    embargo_hours: z.number().min(0),
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
  dataset: obj({ type: str, release: str, release_source: str, proprietary: { kinds: KIND.boolean }, embargo_hours: num, bands: { kinds: ARR, elements: str }, observed_at: { kinds: STR | NULL }, age_hours: { kinds: NUM | NULL } }),
  cutout: obj({ width: num, height: num }),
  position: obj({ wcs_quality: str, ra: { kinds: NUM | NULL }, dec: { kinds: NUM | NULL } }),
  counts: obj({ batch: num, batch_position: num, collection_today: num, collection_published: num }),
});
