/**
 * Who a caller is, as the bridge decides it: an RSP username, the roles the
 * bridge gives them, and the facts about them the policy may use.
 */
export type Role = 'pi' | 'reviewer' | 'admin';

export interface Identity {
  /** RSP username (Gafaelfawr `sub`). */
  username: string;
  roles: Role[];
  groups: string[];
  /** Releases the user holds data rights for (Gafaelfawr's `data_rights`). */
  dataRights: string[];
}

/** A browser login in progress; the caller keeps it server-side, keyed by the browser session. */
export interface LoginFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

/**
 * The identity provider (Gafaelfawr in production, any OpenID Connect
 * provider elsewhere): browser logins and bearer tokens. Implemented by
 * src/identity/oidc-identity.ts.
 */
export interface IdentityProvider {
  beginLogin(returnTo: string): Promise<{ authorizationUrl: string; flow: LoginFlow }>;
  completeLogin(callbackUrl: URL, flow: LoginFlow): Promise<{ identity: Identity; idToken?: string; accessToken?: string }>;
  verifyBearer(token: string): Promise<Identity>;
  /**
   * Asks the provider again, with the access token a browser sign-in
   * received, who `username` is now (groups, roles, data rights). Throws an
   * UnauthenticatedError-like refusal when the token no longer works, an
   * UpstreamError when the provider cannot be reached.
   */
  recheckSession(accessToken: string, username: string): Promise<Identity>;
  endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string): string | undefined;
}
