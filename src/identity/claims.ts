/**
 * Turning provider claims into the bridge's view of a person. Pure functions:
 * everything here runs on claims that were already verified (signed ID token,
 * JWT checked against the JWKS, or a response from the issuer itself).
 */

export type IdentityRole = 'pi' | 'reviewer' | 'admin';

/**
 * Gafaelfawr's own rule, verbatim (constants.USERNAME_REGEX, max 64):
 * lowercase, single hyphens between alphanumerics, and a letter somewhere
 * after the first character so a username can never be mistaken for a UID
 * (a side effect: 'a' and 'a1' are not usernames either). Bot service
 * accounts (`bot-...`) satisfy it. Usernames end up in Butler collection
 * paths (u/<username>/...), so anything looser would let an odd claim value
 * reach them.
 */
const RSP_USERNAME = /^[a-z0-9](?:[a-z0-9]|-[a-z0-9])*[a-z](?:[a-z0-9]|-[a-z0-9])*$/;
const MAX_USERNAME = 64;

export function isRspUsername(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_USERNAME && RSP_USERNAME.test(value);
}

/**
 * Providers disagree on the shape of a groups claim: Keycloak and most OIDC
 * servers send string[], Gafaelfawr's user-info sends [{name, id}]. Anything
 * else is dropped rather than guessed at; dropping can only cost a role.
 */
export function parseGroups(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const names = new Set<string>();
  for (const g of value) {
    if (typeof g === 'string' && g.length > 0) names.add(g);
    else if (g && typeof g === 'object' && typeof (g as { name?: unknown }).name === 'string' && (g as { name: string }).name.length > 0) names.add((g as { name: string }).name);
  }
  return [...names];
}

/** Gafaelfawr's `data_rights` is a space-separated string; some deployments emit an array. */
export function parseDataRights(value: unknown): string[] {
  const parts = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return [...new Set(parts.filter((p) => p.length > 0))];
}

/** Every authenticated person may act as a PI; review and admin come only from groups. */
export function rolesFor(groups: readonly string[], reviewerGroups: readonly string[], adminGroups: readonly string[]): IdentityRole[] {
  const roles: IdentityRole[] = ['pi'];
  if (reviewerGroups.some((g) => groups.includes(g))) roles.push('reviewer');
  if (adminGroups.some((g) => groups.includes(g))) roles.push('admin');
  return roles;
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
