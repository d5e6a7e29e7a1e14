/*
 * OpenID Connect for the bridge: browser sign-in and bearer tokens.
 * Longer than 400 lines because both paths share discovery, key sets and
 * the careful error wording that keeps tokens out of messages.
 */
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as jose, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { UpstreamError } from '../domain/errors.js';
import { isRspUsername, optionalString, parseDataRights, parseGroups, rolesFor, type IdentityRole } from './claims.js';
import { InvalidTokenError, LoginFailedError } from './errors.js';
import { TokenCache } from './token-cache.js';
import type { IdentityProvider } from '../domain/ports/identity-provider.js';

export { InvalidTokenError, LoginFailedError };

export interface IdentityConfig {
  /** Discovery happens at <issuer>/.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Must be registered at the provider exactly as written. */
  redirectUri: string;
  /** e.g. 'openid profile email', plus 'rubin' so Gafaelfawr releases data_rights. */
  scopes: string;
  /** Accepted `aud` values for JWT bearer tokens; a token must name at least one. */
  audiences: string[];
  /** 'sub' for Gafaelfawr (sub is the RSP username); 'preferred_username' elsewhere. */
  usernameClaim: string;
  /** Claim carrying groups as string[] or [{name}]. Ignored when userInfoGroupsUrl is set. */
  groupsClaim?: string;
  /**
   * Gafaelfawr's https://<rsp>/auth/api/v1/user-info: the only place it
   * publishes groups, and the judge of opaque tokens (it accepts every token
   * type; the OIDC userinfo endpoint does not).
   */
  userInfoGroupsUrl?: string;
  reviewerGroups: string[];
  adminGroups: string[];
  /** Dev and tests only: lets the issuer and its endpoints be plain http. */
  allowHttp?: boolean;
  clockToleranceSeconds?: number;
  /**
   * A scope every bearer token must carry: JWTs in `scope` (space-separated)
   * or `scp`; opaque Gafaelfawr tokens in the `scopes` of its token-info
   * (next to user-info). Opaque tokens elsewhere cannot show their scopes and
   * are refused when this is set.
   */
  requiredScope?: string;
  /** How long a successful bearer check is reused; 0 disables. Default 60. */
  tokenCacheSeconds?: number;
}

export interface VerifiedIdentity {
  username: string;
  roles: IdentityRole[];
  groups: string[];
  dataRights: string[];
  name?: string;
  email?: string;
  expiresAt?: Date;
}

/** Everything the callback needs; the caller keeps it server-side, keyed by the browser session. */
export interface LoginFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

const HTTP_TIMEOUT_SECONDS = 10;
const CACHE_MAX_ENTRIES = 1000;
/** Past this a header is abuse, not a token; refuse before hashing or parsing it. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** RFC 9068 says at+jwt; many providers still send plain JWT or nothing. */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

const GafaelfawrUserInfo = z.object({
  username: z.string(),
  name: z.string().optional(),
  email: z.string().optional(),
  groups: z.array(z.unknown()).optional(),
});

type GafaelfawrInfo = z.infer<typeof GafaelfawrUserInfo>;

type Failure = (reason: string) => Error;
const tokenFailure: Failure = (reason) => new InvalidTokenError(reason);
const loginFailure: Failure = (reason) => new LoginFailedError(`login failed: ${reason}`);

/**
 * The bridge's view of the RSP identity provider (Gafaelfawr in production,
 * any OpenID Connect provider elsewhere): browser logins by authorization
 * code with PKCE, and bearer tokens from notebooks. Neither path ever puts a
 * token or secret in an error message.
 */
export class OidcIdentity implements IdentityProvider {
  private readonly cache: TokenCache<VerifiedIdentity>;
  private readonly inflight = new Map<string, Promise<VerifiedIdentity>>();

  private constructor(
    private readonly cfg: IdentityConfig,
    private readonly config: client.Configuration,
    private readonly issuer: string,
    private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined,
    private readonly algorithms: string[],
  ) {
    this.cache = new TokenCache((cfg.tokenCacheSeconds ?? 60) * 1000, CACHE_MAX_ENTRIES);
  }

  static async discover(cfg: IdentityConfig): Promise<OidcIdentity> {
    const issuerUrl = new URL(cfg.issuer);
    requireHttps(issuerUrl, 'issuer', cfg.allowHttp);
    if (cfg.userInfoGroupsUrl) requireHttps(new URL(cfg.userInfoGroupsUrl), 'userInfoGroupsUrl', cfg.allowHttp);
    if (cfg.audiences.length === 0) throw new Error('identity: audiences must name at least one accepted token audience');

    let config: client.Configuration;
    try {
      config = await client.discovery(
        issuerUrl,
        cfg.clientId,
        { client_secret: cfg.clientSecret, [client.clockTolerance]: cfg.clockToleranceSeconds ?? 0 },
        client.ClientSecretBasic(cfg.clientSecret),
        { execute: cfg.allowHttp ? [client.allowInsecureRequests] : [], timeout: HTTP_TIMEOUT_SECONDS },
      );
    } catch (err) {
      throw new UpstreamError(`identity provider discovery at ${issuerUrl.origin} failed: ${reasonOf(err)}`);
    }
    // PKCE is sent whether or not the provider advertises it: Gafaelfawr does
    // not (it ignores the parameters), and there state, nonce and the client
    // secret are what protect the code.
    const meta = config.serverMetadata();

    let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
    if (meta.jwks_uri) {
      const jwksUrl = new URL(meta.jwks_uri);
      requireHttps(jwksUrl, 'jwks_uri', cfg.allowHttp);
      jwks = createRemoteJWKSet(jwksUrl, { timeoutDuration: HTTP_TIMEOUT_SECONDS * 1000 });
    }
    // Symmetric algorithms would make the client secret a signing key, and
    // 'none' would make signatures optional; neither belongs on an access token.
    const advertised = meta.id_token_signing_alg_values_supported ?? [];
    const algorithms = advertised.filter((a) => a !== 'none' && !a.startsWith('HS'));
    return new OidcIdentity(cfg, config, meta.issuer, jwks, algorithms.length > 0 ? algorithms : ['RS256']);
  }

  async beginLogin(returnTo: string): Promise<{ authorizationUrl: string; flow: LoginFlow }> {
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(this.config, {
      redirect_uri: this.cfg.redirectUri,
      scope: this.cfg.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { authorizationUrl: url.href, flow: { state, nonce, codeVerifier, returnTo: safeReturnTo(returnTo) } };
  }

  /**
   * Only the query of `callbackUrl` is used: behind a proxy the URL the
   * server sees differs from the registered redirect URI, and the token
   * request must repeat the registered one.
   */
  async completeLogin(callbackUrl: URL, flow: LoginFlow): Promise<{ identity: VerifiedIdentity; idToken?: string; accessToken?: string }> {
    const current = new URL(this.cfg.redirectUri);
    current.search = callbackUrl.search;
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(this.config, current, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      if (isNetworkError(err)) throw new UpstreamError(`identity provider unreachable: ${reasonOf(err)}`);
      throw loginFailure(reasonOf(err));
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw loginFailure('the provider returned no ID token');

    // Conforming providers keep profile claims out of the ID token in the code
    // flow and serve them from userinfo; ask whenever the provider offers it.
    let claims: Record<string, unknown> = { ...idClaims };
    if (this.config.serverMetadata().userinfo_endpoint) {
      try {
        claims = { ...claims, ...(await client.fetchUserInfo(this.config, tokens.access_token, idClaims.sub)) };
      } catch (err) {
        throw refusedOrUpstream(err, loginFailure, 'userinfo');
      }
    }
    const idTokenExpiry = typeof idClaims.exp === 'number' ? new Date(idClaims.exp * 1000) : undefined;
    const identity = await this.identityFrom(claims, tokens.access_token, idTokenExpiry, loginFailure);
    return { identity, accessToken: tokens.access_token, ...(tokens.id_token ? { idToken: tokens.id_token } : {}) };
  }

  /**
   * What the provider says about a signed-in browser's user now: userinfo
   * (or Gafaelfawr's user-info) with the access token of the sign-in. A
   * provider whose userinfo does not show the groups cannot re-check them:
   * that is a refusal, and the session ends (signing in again reads them).
   */
  async recheckSession(accessToken: string, username: string): Promise<VerifiedIdentity> {
    let identity: VerifiedIdentity;
    if (this.cfg.userInfoGroupsUrl) {
      identity = await this.verifyWithGafaelfawr(accessToken);
    } else {
      if (!this.config.serverMetadata().userinfo_endpoint) throw tokenFailure('the provider has no userinfo endpoint to re-check the session with');
      let info: client.UserInfoResponse;
      try {
        info = await client.fetchUserInfo(this.config, accessToken, client.skipSubjectCheck);
      } catch (err) {
        throw refusedOrUpstream(err, tokenFailure, 'userinfo');
      }
      if (this.cfg.groupsClaim && info[this.cfg.groupsClaim] === undefined) throw tokenFailure(`userinfo does not show the ${this.cfg.groupsClaim} claim, so the session's groups cannot be re-checked`);
      identity = await this.identityFrom(info, accessToken, undefined, tokenFailure);
    }
    if (identity.username !== username) throw tokenFailure('the provider now describes a different user');
    return identity;
  }

  async verifyBearer(token: string): Promise<VerifiedIdentity> {
    if (typeof token !== 'string' || token.length === 0) throw new InvalidTokenError('no bearer token');
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('bearer token too long');
    const key = TokenCache.key(token);
    const hit = this.cache.get(key);
    if (hit) return hit;
    // A notebook often fires a burst of calls with a fresh token: one lookup serves them all.
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = (looksLikeJwt(token) ? this.verifyJwt(token) : this.verifyOpaque(token))
        .then((identity) => {
          this.cache.set(key, identity);
          return identity;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Undefined when the provider has no end_session_endpoint (Gafaelfawr): just drop the local session. */
  endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string): string | undefined {
    if (!this.config.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri };
    if (idTokenHint) params.id_token_hint = idTokenHint;
    return client.buildEndSessionUrl(this.config, params).href;
  }

  private async verifyJwt(token: string): Promise<VerifiedIdentity> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new InvalidTokenError('malformed JWT');
    }
    // Cheap refusals first, on claims not yet trusted: they only ever lead to a
    // refusal, and they spare a JWKS fetch for tokens that were never ours.
    if (header.alg === 'none') throw new InvalidTokenError('unsigned JWT');
    if (typeof header.alg !== 'string' || !this.algorithms.includes(header.alg)) throw new InvalidTokenError('JWT signing algorithm not accepted');
    if (unverified.iss !== this.issuer) throw new InvalidTokenError('token from a different issuer');
    if (header.typ !== undefined && !ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase())) throw new InvalidTokenError('JWT is not an access token');
    if (!this.jwks) throw new InvalidTokenError('the provider publishes no signing keys, so JWT bearer tokens cannot be checked');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer,
        audience: this.cfg.audiences,
        algorithms: this.algorithms,
        requiredClaims: ['exp'],
        clockTolerance: this.cfg.clockToleranceSeconds ?? 0,
      }));
    } catch (err) {
      throw joseFailure(err);
    }
    if (looksLikeIdToken(header.typ, payload, this.cfg.clientId)) throw new InvalidTokenError('an ID token is not a bearer token: send the access token');
    if (this.cfg.requiredScope && !jwtScopes(payload).includes(this.cfg.requiredScope)) throw new InvalidTokenError(`the token lacks the scope ${this.cfg.requiredScope}`);
    return this.identityFrom(payload, token, new Date((payload.exp as number) * 1000), tokenFailure);
  }

  private async verifyOpaque(token: string): Promise<VerifiedIdentity> {
    if (this.cfg.userInfoGroupsUrl) {
      if (this.cfg.requiredScope) await this.requireGafaelfawrScope(token, this.cfg.requiredScope);
      return this.verifyWithGafaelfawr(token);
    }
    if (this.cfg.requiredScope) throw new InvalidTokenError(`opaque tokens cannot show the scope ${this.cfg.requiredScope} at this provider: use a JWT access token`);
    if (!this.config.serverMetadata().userinfo_endpoint) throw new InvalidTokenError('opaque tokens cannot be checked: the provider has no userinfo endpoint');
    let info: client.UserInfoResponse;
    try {
      // The subject is what we are asking for, so there is none to compare with;
      // the answer comes from the issuer itself over a checked connection.
      info = await client.fetchUserInfo(this.config, token, client.skipSubjectCheck);
    } catch (err) {
      throw refusedOrUpstream(err, tokenFailure, 'userinfo');
    }
    return this.identityFrom(info, token, undefined, tokenFailure);
  }

  /**
   * Gafaelfawr's OIDC userinfo serves only its internal and oidc tokens, but a
   * notebook holds a notebook or user token; its user-info API accepts every
   * kind, so that is what decides. data_rights exist only in the OIDC view:
   * asked for, and left empty when Gafaelfawr will not show them for this
   * kind of token.
   */
  private async verifyWithGafaelfawr(token: string): Promise<VerifiedIdentity> {
    const info = await this.gafaelfawrUserInfo(token, tokenFailure);
    const claims: Record<string, unknown> = { [this.cfg.usernameClaim]: info.username };
    if (this.config.serverMetadata().userinfo_endpoint) {
      try {
        const oidc = await client.fetchUserInfo(this.config, token, client.skipSubjectCheck);
        if (oidc[this.cfg.usernameClaim] !== info.username) throw tokenFailure('userinfo and user-info describe different users');
        claims.data_rights = oidc.data_rights;
      } catch (err) {
        if (err instanceof InvalidTokenError) throw err;
        if (!isRefusal(err)) throw refusedOrUpstream(err, tokenFailure, 'userinfo');
      }
    }
    return this.identityFrom(claims, token, undefined, tokenFailure, info);
  }

  private async identityFrom(claims: Record<string, unknown>, bearer: string, expiresAt: Date | undefined, fail: Failure, known?: GafaelfawrInfo): Promise<VerifiedIdentity> {
    const username = claims[this.cfg.usernameClaim];
    if (username === undefined) throw fail(`the token carries no ${this.cfg.usernameClaim} claim`);
    if (!isRspUsername(username)) throw fail(`the ${this.cfg.usernameClaim} claim is not a valid RSP username`);

    let groups: string[];
    let name = optionalString(claims.name);
    let email = optionalString(claims.email);
    if (this.cfg.userInfoGroupsUrl) {
      const info = known ?? (await this.gafaelfawrUserInfo(bearer, fail));
      if (info.username !== username) throw fail('the user-info service describes a different user');
      groups = parseGroups(info.groups);
      name ??= optionalString(info.name);
      email ??= optionalString(info.email);
    } else {
      groups = this.cfg.groupsClaim ? parseGroups(claims[this.cfg.groupsClaim]) : [];
    }

    const identity: VerifiedIdentity = {
      username,
      roles: rolesFor(groups, this.cfg.reviewerGroups, this.cfg.adminGroups),
      groups,
      dataRights: parseDataRights(claims.data_rights),
    };
    if (name) identity.name = name;
    if (email) identity.email = email;
    if (expiresAt) identity.expiresAt = expiresAt;
    // Cached identities are shared between requests; freezing keeps one
    // request's handler from changing what the next one sees.
    Object.freeze(identity.roles);
    Object.freeze(identity.groups);
    Object.freeze(identity.dataRights);
    return Object.freeze(identity);
  }

  /** Gafaelfawr's token-info (…/auth/api/v1/token-info, next to user-info) lists the token's scopes. */
  private async requireGafaelfawrScope(token: string, scope: string): Promise<void> {
    const url = new URL('token-info', this.cfg.userInfoGroupsUrl!);
    let res: Response;
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(HTTP_TIMEOUT_SECONDS * 1000) });
    } catch (err) {
      throw new UpstreamError(`the token-info service did not answer: ${reasonOf(err)}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new InvalidTokenError('the token-info service refused the token');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamError(`the token-info service answered HTTP ${res.status}`);
    }
    const parsed = z.object({ scopes: z.array(z.string()) }).safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new UpstreamError('the token-info service sent an answer the bridge does not understand');
    if (!parsed.data.scopes.includes(scope)) throw new InvalidTokenError(`the token lacks the scope ${scope}`);
  }

  private async gafaelfawrUserInfo(bearer: string, fail: Failure): Promise<GafaelfawrInfo> {
    let res: Response;
    try {
      res = await fetch(this.cfg.userInfoGroupsUrl!, {
        headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(HTTP_TIMEOUT_SECONDS * 1000),
      });
    } catch (err) {
      throw new UpstreamError(`the user-info service did not answer: ${reasonOf(err)}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw fail('the user-info service refused the token');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamError(`the user-info service answered HTTP ${res.status}`);
    }
    const parsed = GafaelfawrUserInfo.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new UpstreamError('the user-info service sent an answer the bridge does not understand');
    return parsed.data;
  }
}

/**
 * `returnTo` comes from the browser, and the callback redirects to it: only
 * local absolute paths, so a crafted login link cannot bounce a fresh session
 * to another site.
 */
export function safeReturnTo(returnTo: unknown): string {
  if (typeof returnTo !== 'string' || !returnTo.startsWith('/') || returnTo.startsWith('//') || returnTo.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f\u007f\\]/.test(returnTo) || returnTo.length > 2048) return '/';
  return returnTo;
}

/** Gafaelfawr tokens (gt-<key>.<secret>) have two parts and no JSON header, so they go to userinfo. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === '' || parts[1] === '' || !parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p))) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' && !Array.isArray(header);
  } catch {
    return false;
  }
}

function requireHttps(url: URL, what: string, allowHttp: boolean | undefined): void {
  if (url.protocol === 'https:' || (allowHttp && url.protocol === 'http:')) return;
  throw new Error(`identity: ${what} must use https (${url.origin}); allowHttp exists for dev and tests only`);
}

function joseFailure(err: unknown): Error {
  if (err instanceof jose.JWTExpired) return new InvalidTokenError('token expired');
  if (err instanceof jose.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return new InvalidTokenError('token from a different issuer');
      case 'aud':
        return new InvalidTokenError('token not meant for the bridge (wrong audience)');
      case 'nbf':
        return new InvalidTokenError('token not valid yet');
      case 'exp':
        return new InvalidTokenError(err.reason === 'missing' ? 'token has no expiry' : 'token expired');
      case 'iat':
        return new InvalidTokenError('token issued in the future');
      default:
        return new InvalidTokenError(`token claim ${err.claim} failed validation`);
    }
  }
  if (err instanceof jose.JWSSignatureVerificationFailed) return new InvalidTokenError('bad token signature');
  if (err instanceof jose.JWKSNoMatchingKey) return new InvalidTokenError('token signed by a key the provider does not publish');
  if (err instanceof jose.JOSEAlgNotAllowed) return new InvalidTokenError('JWT signing algorithm not accepted');
  if (err instanceof jose.JWSInvalid || err instanceof jose.JWTInvalid || err instanceof jose.JOSENotSupported || err instanceof jose.JWKSMultipleMatchingKeys) {
    return new InvalidTokenError('malformed JWT');
  }
  // What is left is the JWKS fetch itself (timeout, non-200, bad JSON, network).
  return new UpstreamError(`could not fetch the identity provider's signing keys: ${reasonOf(err)}`);
}

/** A 4xx from the provider is a verdict on the token; anything else says nothing about it. */
function refusedOrUpstream(err: unknown, fail: Failure, what: string): Error {
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const code = err.cause.find((c) => c.parameters.error)?.parameters.error;
    if (err.status === 401 || code === 'invalid_token') return fail('unknown, expired or revoked token');
    if (err.status === 403 || code === 'insufficient_scope') return fail(`the token is not allowed to read ${what} (insufficient scope)`);
  }
  if (err instanceof client.ResponseBodyError && err.status >= 400 && err.status < 500) return fail(`the provider refused the token (${err.error})`);
  const status = statusOf(err);
  if (status === 401) return fail('unknown, expired or revoked token');
  if (status === 403) return fail(`the token is not allowed to read ${what}`);
  if (err instanceof client.ClientError && status === undefined && !isNetworkError(err)) return fail(`${what} answer rejected: ${reasonOf(err)}`);
  return new UpstreamError(`the identity provider's ${what} endpoint failed: ${reasonOf(err)}`);
}

function isRefusal(err: unknown): boolean {
  const status = err instanceof client.WWWAuthenticateChallengeError || err instanceof client.ResponseBodyError ? err.status : statusOf(err);
  return status === 401 || status === 403;
}

function statusOf(err: unknown): number | undefined {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Response ? cause.status : undefined;
}

function isNetworkError(err: unknown): boolean {
  if (err instanceof TypeError) return true;
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/**
 * A short, token-free description. Library messages are fixed strings (the
 * values they compared live in `cause`, which is never copied); provider
 * error codes and descriptions are the provider's own words about the request.
 */
function reasonOf(err: unknown): string {
  let reason: string;
  if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError) {
    reason = err.error_description ? `${err.error}: ${err.error_description}` : err.error;
  } else if (err instanceof client.ClientError && err.cause instanceof Error) {
    reason = err.cause.message;
  } else if (err instanceof Error) {
    reason = err.message;
  } else {
    reason = 'unknown error';
  }
  return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
}

/**
 * An ID token sent as a bearer token is refused. It is signed by the same
 * issuer, so the signature says nothing, and its `aud` is the web client id,
 * which an operator may have listed as an accepted audience, so the audience
 * check alone does not catch it either. Typed at+jwt (RFC 9068) a JWT is an
 * access token. Otherwise it is taken for an ID token when it carries an
 * ID-token-only claim (`nonce`, `at_hash`, `c_hash`: OIDC Core 2, 3.3.2.11),
 * or when it is addressed to the bridge's own web client and carries none of
 * what access tokens carry (`scope`, `scp`, `client_id`: RFC 9068 2.2).
 */
export function looksLikeIdToken(typ: string | undefined, claims: JWTPayload, webClientId: string): boolean {
  const t = typ?.toLowerCase();
  if (t === 'at+jwt' || t === 'application/at+jwt') return false;
  if (claims.nonce !== undefined || claims.at_hash !== undefined || claims.c_hash !== undefined) return true;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return aud.includes(webClientId) && claims.scope === undefined && claims.scp === undefined && claims.client_id === undefined;
}

/** `scope` (space-separated, RFC 9068) or `scp` (string or list, Entra/Okta). */
export function jwtScopes(claims: JWTPayload): string[] {
  const out: string[] = [];
  for (const v of [claims.scope, claims.scp]) {
    if (typeof v === 'string') out.push(...v.split(' ').filter(Boolean));
    else if (Array.isArray(v)) out.push(...v.filter((x): x is string => typeof x === 'string'));
  }
  return out;
}
