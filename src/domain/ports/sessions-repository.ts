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
  /** When the provider last told us the groups and roles: the sign-in. */
  createdAt: Date;
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
  create(who: SessionIdentity, ttlMs: number, idToken?: string): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }>;
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
