/**
 * Who is asking, as the domain's rules need it: the RSP username, the
 * bridge roles (pi, reviewer, admin) and the data rights their token
 * carries. The HTTP layer's identity and the CLI's operator both fit.
 */
export interface Caller {
  username: string;
  roles: string[];
  dataRights?: string[];
}

export function isAdmin(who: Caller): boolean {
  return who.roles.includes('admin');
}

/** Reviewers and admins oversee every collection; PIs only their own. */
export function overseesAll(who: Caller): boolean {
  return who.roles.includes('reviewer') || isAdmin(who);
}
