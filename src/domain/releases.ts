import { z } from 'zod';
import { ValidationError } from './errors.js';

/**
 * Which data release a Butler repository serves, and what that means for
 * data rights: an operator-maintained mapping (config `RELEASES_FILE`, or
 * the built-in default below). The PI never states the release; it is
 * derived here from the repository label at registration and stored on the
 * collection with where it came from (`release_source`).
 */
export interface ReleaseInfo {
  /** Release name the policy sees as `dataset.release`, lower case: dp0.2, dp1, dr1, prompt... */
  release: string;
  /** Prompt products: released continuously, embargoed after observation. */
  prompt: boolean;
  /** Proprietary (two years) rather than public. */
  proprietary: boolean;
  /** Hours after observation during which nothing may be published (0: none). */
  embargoHours: number;
}

/** Butler repository label -> its release. */
export type ReleaseCatalogue = Readonly<Record<string, ReleaseInfo>>;

/** Where a collection's release came from: the operator's mapping, an admin's audited override, or neither (unknown label). */
export type ReleaseSource = 'mapping' | 'admin' | 'unmapped' | 'pi_claim';

/**
 * The release of a repository label nobody mapped: proprietary, under the
 * prompt embargo, and named `unknown` so no owner's data_rights claim and no
 * public-release list can match it. Never more permissive than any mapped release.
 */
export const UNKNOWN_RELEASE: ReleaseInfo = Object.freeze({ release: 'unknown', prompt: true, proprietary: true, embargoHours: 80 });

/**
 * The default mapping: the RSP repositories (rubin.md) and the labels the
 * demo and tests use. DP0.2/DP0.3 are simulations (public); dp1 is a data
 * preview, proprietary like the shipped policy says; prompt products are embargoed 80 h and
 * proprietary; annual data releases are proprietary.
 */
export const DEFAULT_RELEASES: ReleaseCatalogue = Object.freeze({
  dp02: { release: 'dp0.2', prompt: false, proprietary: false, embargoHours: 0 },
  'dp0.2': { release: 'dp0.2', prompt: false, proprietary: false, embargoHours: 0 },
  dp03: { release: 'dp0.3', prompt: false, proprietary: false, embargoHours: 0 },
  'dp0.3': { release: 'dp0.3', prompt: false, proprietary: false, embargoHours: 0 },
  dp1: { release: 'dp1', prompt: false, proprietary: true, embargoHours: 0 },
  prompt: { release: 'prompt', prompt: true, proprietary: true, embargoHours: 80 },
  embargo: { release: 'prompt', prompt: true, proprietary: true, embargoHours: 80 },
  dr1: { release: 'dr1', prompt: false, proprietary: true, embargoHours: 0 },
});

const entrySchema = z.strictObject({
  release: z.string().regex(/^[a-z0-9._-]{1,40}$/, 'must be a lower-case release name such as dp1, dr1 or prompt'),
  prompt: z.boolean(),
  proprietary: z.boolean(),
  embargoHours: z.number().min(0),
});
const catalogueSchema = z.record(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a Butler repository label'), entrySchema);

/** Checks an operator's mapping (parsed YAML or JSON); a mistake names the entry. */
export function parseReleaseCatalogue(input: unknown): ReleaseCatalogue {
  const r = catalogueSchema.safeParse(input);
  if (r.success) return Object.freeze(r.data);
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(releases)'}: ${i.message}`);
  throw new ValidationError(`invalid release mapping: ${problems.join('; ')}`, { problems });
}

/** The release of a repository label, and whether the mapping knew it. */
export function releaseOf(catalogue: ReleaseCatalogue, repository: string): { info: ReleaseInfo; source: 'mapping' | 'unmapped' } {
  const info = Object.hasOwn(catalogue, repository) ? catalogue[repository] : undefined;
  return info ? { info, source: 'mapping' } : { info: UNKNOWN_RELEASE, source: 'unmapped' };
}

/** What registration stores for a repository label: the mapping's release and where it came from. */
export function derivedRelease(catalogue: ReleaseCatalogue, repository: string): { name: string; source: 'mapping' | 'unmapped'; proprietary: boolean; embargoHours: number } {
  const { info, source } = releaseOf(catalogue, repository);
  return { name: info.release, source, proprietary: info.proprietary, embargoHours: info.embargoHours };
}
