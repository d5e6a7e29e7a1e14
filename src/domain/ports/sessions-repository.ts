/** Who a browser session signs in as. */
export interface SessionIdentity {
  username: string;
  roles: string[];
  groups: string[];
  dataRights: string[];
}

export interface LiveSession extends SessionIdentity {
  /** Cookie-authenticated writes must carry it. */
  csrfToken: string;
  /** When the provider last told us the groups and roles: the sign-in or the last re-check. */
  rolesCheckedAt: Date;
  /** The provider's access token, to ask it again (absent for dev sign-ins and sessions from before it was kept). */
  accessToken?: string;
}

/** The provider's tokens a session keeps, sealed under its cookie. */
export interface SessionTokens {
  /** For logout's id_token_hint. */
  idToken?: string;
  /** For re-reading the groups and data rights. */
  accessToken?: string;
}

/** An OIDC sign-in between its redirect to the provider and the callback. */
export interface LoginFlowRecord {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

/**
 * Browser sessions behind an httpOnly cookie, and the sign-ins that start
 * them. Only hashes of cookies and flow states are stored, and the
 * provider's ID token only sealed under the cookie.
 */
export interface SessionsRepository {
  /** Returns the cookie value, which only the browser keeps. */
  create(who: SessionIdentity, ttlMs: number, tokens?: SessionTokens): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }>;
  /** Records what the provider states now about the session's user (groups, roles, data rights), as of now. */
  renew(cookie: string, who: SessionIdentity): Promise<void>;
  /** The unexpired session behind a cookie. */
  find(cookie: string): Promise<LiveSession | undefined>;
  /** Deletes the session; returns the ID token it held (the provider's logout hint), if any. */
  end(cookie: string): Promise<string | undefined>;
  saveLoginFlow(f: LoginFlowRecord): Promise<void>;
  /** Single use: the flow is deleted as it is taken; undefined when unknown or expired. */
  takeLoginFlow(state: string): Promise<LoginFlowRecord | undefined>;
  /** Ends every session of the user (a purge); returns how many there were. */
  endAllOf(username: string): Promise<number>;
  /** Drops expired sessions and sign-ins nobody finished. */
  purgeExpired(): Promise<void>;
}
