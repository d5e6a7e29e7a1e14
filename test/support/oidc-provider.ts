import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import Provider, { errors, type InteractionDetails } from 'oidc-provider';
import type { IdentityConfig } from '../../src/identity/oidc-identity.js';
import { readBody } from '../../src/demo/read-body.js';

/**
 * A real OpenID Connect provider (panva/oidc-provider) on 127.0.0.1 over
 * http, standing in for Gafaelfawr or any other RSP identity provider. The
 * bridge's identity code talks to it exactly as it would to the real one:
 * discovery, authorization code + PKCE, userinfo, JWKS. Its login page is a
 * plain HTML form, so a real browser (playwright) can use it as well as
 * `authorize` below.
 */

export interface TestAccount {
  name: string;
  email: string;
  /** Gafaelfawr-shaped: the ID matters only to the user-info endpoint. */
  groups: { name: string; id: number }[];
  /** Space-separated, as Gafaelfawr sends it with scope `rubin`. */
  dataRights?: string;
}

export const DEFAULT_ACCOUNTS: Record<string, TestAccount> = {
  alien: { name: 'Alien PI', email: 'alien@example.org', groups: [{ name: 'g_users', id: 2000001 }], dataRights: 'dp1 dr1' },
  other: { name: 'Other PI', email: 'other@example.org', groups: [{ name: 'g_users', id: 2000001 }] },
  rev: { name: 'EPO Reviewer', email: 'rev@example.org', groups: [{ name: 'g_users', id: 2000001 }, { name: 'epo-reviewers', id: 2000002 }], dataRights: 'dp1' },
  boss: { name: 'EPO Admin', email: 'boss@example.org', groups: [{ name: 'g_users', id: 2000001 }, { name: 'epo-admins', id: 2000003 }] },
};

export interface TestClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface OidcProviderOptions {
  /** Replaces DEFAULT_ACCOUNTS. */
  accounts?: Record<string, TestAccount>;
  /** Extra redirect URIs for the bridge web client (the loopback one below is always there). */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** false = Gafaelfawr: no `groups` scope or claim anywhere; groups only from /auth/api/v1/user-info. */
  groupsClaim?: boolean;
  /** Audience of JWT access tokens for the bridge API. */
  apiAudience?: string;
}

export interface TokenOptions {
  /** JWT access token with this `aud` (default: the bridge API audience). Ignored for opaque. */
  audience?: string;
  /** Seconds until expiry; zero or negative gives an already expired token (JWT only). */
  expiresIn?: number;
  /** 'opaque' gives a token with no audience, usable only at userinfo (the Gafaelfawr-like path). */
  format?: 'jwt' | 'opaque';
  scope?: string;
  clientId?: string;
}

export interface LoginTokens {
  accessToken: string;
  idToken: string;
  tokenType: string;
  expiresIn: number;
  scope?: string;
}

export interface StartedOidcProvider {
  issuer: string;
  provider: Provider;
  accounts: Record<string, TestAccount>;
  clients: { web: TestClient; notebook: TestClient };
  /** Resource indicator the notebook client gets JWTs for; its `aud` is apiAudience. */
  apiResource: string;
  apiAudience: string;
  /** Gafaelfawr-style GET <url> with a bearer token → { username, name, email, groups: [{name, id}] }. */
  userInfoUrl: string;
  /** Scopes the provider knows: openid profile email rubin (+ groups unless Gafaelfawr-like). */
  scopes: string;
  /** Drives a login like a browser: follows the authorization URL, fills the form as `username`, returns the callback URL (code or error). */
  authorize(authorizationUrl: string, username: string, jar?: CookieJar): Promise<URL>;
  /** The whole code flow for one of the registered clients, with its own PKCE; returns the token response. */
  loginWithFetch(username: string, client?: 'web' | 'notebook', opts?: { scope?: string; resource?: string }): Promise<LoginTokens>;
  /** Mints an access token through the provider's own models: as real as one from the token endpoint. */
  tokenFor(username: string, opts?: TokenOptions): Promise<string>;
  /** Signs arbitrary claims, with the provider's key (valid signature, whatever the claims) or a foreign one. */
  signJwt(claims: JWTPayload, opts?: { signer?: 'provider' | 'foreign'; header?: Partial<JWTHeaderParameters> }): Promise<string>;
  /** alg "none": header and claims, empty signature. */
  unsignedJwt(claims: JWTPayload): string;
  /** Revokes an opaque access token at the provider (the userinfo endpoint then refuses it). */
  revoke(token: string): Promise<void>;
  /** How many requests reached a path (e.g. '/me', the userinfo endpoint) since start. */
  hits(pathname: string): number;
  close(): Promise<void>;
}

const API_RESOURCE = 'urn:rsp-bridge:api';
const API_SCOPE = 'bridge:api';

export async function startOidcProvider(opts: OidcProviderOptions = {}): Promise<StartedOidcProvider> {
  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  const groupsClaim = opts.groupsClaim ?? true;
  const apiAudience = opts.apiAudience ?? 'bridge-api';
  const providerKey = await signingKey('provider');
  const foreignKey = await signingKey('foreign');

  // The issuer must contain the port, so listen before the provider exists.
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => (handle ? handle(req, res) : res.writeHead(503).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const clients = {
    // Native application type: oidc-provider then accepts any port on a
    // loopback redirect URI (RFC 8252), so a bridge started on a random port
    // after the provider can still complete logins.
    web: { clientId: 'bridge-web', clientSecret: 'bridge-web-secret', redirectUris: ['http://127.0.0.1/auth/callback', ...(opts.redirectUris ?? [])] },
    notebook: { clientId: 'notebook', clientSecret: 'notebook-secret', redirectUris: ['http://127.0.0.1/notebook/callback'] },
  } satisfies Record<string, TestClient>;

  const claimsFor = (username: string): Record<string, unknown> => {
    const a = accounts[username];
    return {
      sub: username,
      preferred_username: username,
      name: a.name,
      email: a.email,
      email_verified: true,
      ...(groupsClaim ? { groups: a.groups.map((g) => g.name) } : {}),
      ...(a.dataRights ? { data_rights: a.dataRights } : {}),
    };
  };

  const claims: Record<string, string[]> = {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    rubin: ['data_rights'],
    ...(groupsClaim ? { groups: ['groups'] } : {}),
  };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clients.web.clientId,
        client_secret: clients.web.clientSecret,
        application_type: 'native',
        redirect_uris: clients.web.redirectUris,
        post_logout_redirect_uris: ['http://127.0.0.1/', ...(opts.postLogoutRedirectUris ?? [])],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: clients.notebook.clientId,
        client_secret: clients.notebook.clientSecret,
        application_type: 'native',
        redirect_uris: clients.notebook.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [providerKey.privateJwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims,
    async findAccount(_ctx: unknown, sub: string) {
      if (!Object.hasOwn(accounts, sub)) return undefined;
      return { accountId: sub, claims: async () => claimsFor(sub) };
    },
    // Resource servers usually get groups in the access token itself (Keycloak
    // and most others do); Gafaelfawr-like mode keeps them out of every token.
    async extraTokenClaims(_ctx: unknown, token: { kind: string; accountId?: string; resourceServer?: unknown }) {
      if (token.kind !== 'AccessToken' || !token.resourceServer || !token.accountId || !Object.hasOwn(accounts, token.accountId)) return undefined;
      const { groups, data_rights } = claimsFor(token.accountId);
      return { ...(groups ? { groups } : {}), ...(data_rights ? { data_rights } : {}) };
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The notebook client exists to call the API, so it gets API tokens
        // without asking; the web client gets an opaque, userinfo-only token.
        defaultResource: async (_ctx: unknown, client: { clientId: string }, oneOf?: string[]) => oneOf ?? (client.clientId === clients.notebook.clientId ? API_RESOURCE : undefined),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== API_RESOURCE) throw new errors.InvalidTarget();
          return { scope: API_SCOPE, audience: apiAudience, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
        },
      },
    },
    ttl: {
      AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    clientBasedCORS: () => false,
  });

  const providerHandler = provider.callback();
  const interactionPath = /^\/interaction\/([^/]+)(\/login)?$/;
  const hits = new Map<string, number>();
  handle = (req, res) => {
    const { pathname } = new URL(req.url ?? '/', issuer);
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1);
    const m = interactionPath.exec(pathname);
    let work: Promise<void>;
    if (pathname === '/auth/api/v1/user-info') work = gafaelfawrUserInfo(req, res);
    else if (pathname === '/auth/api/v1/token-info') work = gafaelfawrTokenInfo(req, res);
    else if (m && m[2] && req.method === 'POST') work = submitLogin(req, res, m[1]);
    else if (m && !m[2] && req.method === 'GET') work = showInteraction(req, res, m[1]);
    else if (m) work = Promise.resolve(void res.writeHead(405).end());
    else return providerHandler(req, res);
    work.catch((err: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${err.message}`);
    });
  };

  async function showInteraction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (details.prompt.name === 'login') return loginPage(res, uid);
    if (details.prompt.name === 'consent') return grantConsent(req, res, details);
    throw new Error(`unsupported prompt ${details.prompt.name}`);
  }

  async function submitLogin(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid || details.prompt.name !== 'login') throw new Error('interaction mismatch');
    const username = new URLSearchParams(await readBody(req, 64 * 1024)).get('username')?.trim() ?? '';
    if (!Object.hasOwn(accounts, username)) return loginPage(res, uid, `No such user: ${username}`);
    await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
  }

  // First-party test clients: consent is granted for whatever was asked.
  async function grantConsent(req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
    const accountId = details.session?.accountId;
    if (!accountId) throw new Error('consent without a login');
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId: details.params.client_id });
    const d = details.prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  function loginPage(res: ServerResponse, uid: string, error?: string): void {
    const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>Test RSP login</title></head>
<body>
<h1>Sign in to the test RSP</h1>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login">
<label>Username <input name="username" autocomplete="username" autofocus required></label>
<button type="submit">Sign in</button>
</form>
</body></html>`;
    res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  }

  // Validates the bearer the way Gafaelfawr would its own tokens: opaque ones
  // against the provider's token store, JWTs against its key and issuer.
  async function gafaelfawrUserInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (): void => {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' }).end(JSON.stringify({ detail: [{ msg: 'Invalid token', type: 'invalid_token' }] }));
    };
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (req.method !== 'GET' || !token) return refuse();
    let username: string | undefined;
    if (token.split('.').length === 3) {
      try {
        username = (await jwtVerify(token, createLocalJWKSet({ keys: [providerKey.publicJwk] }), { issuer })).payload.sub;
      } catch {
        username = undefined;
      }
    } else {
      username = (await provider.AccessToken.find(token))?.accountId;
    }
    if (!username || !Object.hasOwn(accounts, username)) return refuse();
    const a = accounts[username];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ username, name: a.name, email: a.email, groups: a.groups }));
  }

  // Gafaelfawr's token-info for opaque tokens: { username, token_type, scopes }.
  async function gafaelfawrTokenInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const found = token && req.method === 'GET' && token.split('.').length !== 3 ? await provider.AccessToken.find(token) : undefined;
    if (!found?.accountId) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' }).end(JSON.stringify({ detail: [{ msg: 'Invalid token', type: 'invalid_token' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ username: found.accountId, token_type: 'user', scopes: String(found.scope ?? '').split(' ').filter(Boolean) }));
  }

  async function authorize(authorizationUrl: string, username: string, jar = new CookieJar()): Promise<URL> {
    let url = new URL(authorizationUrl);
    let post: string | undefined;
    let submitted = false;
    for (let hop = 0; hop < 20; hop++) {
      const headers: Record<string, string> = { cookie: jar.header(url) };
      if (post !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method: post === undefined ? 'GET' : 'POST', headers, body: post, redirect: 'manual' });
      jar.store(url, res);
      post = undefined;
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        const next = new URL(location, url);
        if (next.origin !== issuer) return next;
        url = next;
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*\baction="([^"]+)"/i.exec(html)?.[1];
      if (!action || !/<input[^>]*\bname="username"/i.test(html)) throw new Error(`provider answered HTTP ${res.status} without a login form: ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`);
      if (submitted) throw new Error(`login as ${username} refused (HTTP ${res.status})`);
      url = new URL(action.replace(/&amp;/g, '&'), url);
      post = new URLSearchParams({ username }).toString();
      submitted = true;
    }
    throw new Error('too many redirects while logging in');
  }

  async function loginWithFetch(username: string, which: 'web' | 'notebook' = 'notebook', o: { scope?: string; resource?: string } = {}): Promise<LoginTokens> {
    const c = clients[which];
    const redirectUri = which === 'web' ? 'http://127.0.0.1:1/auth/callback' : 'http://127.0.0.1:1/notebook/callback';
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const auth = new URL('/auth', issuer);
    const scope = o.scope ?? (which === 'notebook' ? `openid profile email rubin ${API_SCOPE}` : `openid profile email rubin${groupsClaim ? ' groups' : ''}`);
    auth.search = new URLSearchParams({
      client_id: c.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope,
      state,
      nonce: randomBytes(16).toString('base64url'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...(o.resource ? { resource: o.resource } : {}),
    }).toString();
    const callback = await authorize(auth.href, username);
    if (callback.searchParams.get('state') !== state) throw new Error('state mismatch in test login');
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`authorization failed: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description') ?? ''}`);
    const res = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: { authorization: basicAuth(c), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`token request failed: ${String(body.error)} ${String(body.error_description ?? '')}`);
    return { accessToken: String(body.access_token), idToken: String(body.id_token), tokenType: String(body.token_type), expiresIn: Number(body.expires_in), ...(typeof body.scope === 'string' ? { scope: body.scope } : {}) };
  }

  async function tokenFor(username: string, o: TokenOptions = {}): Promise<string> {
    if (!Object.hasOwn(accounts, username)) throw new Error(`no test account ${username}`);
    const clientId = o.clientId ?? clients.notebook.clientId;
    const client = await provider.Client.find(clientId);
    if (!client) throw new Error(`no client ${clientId}`);
    const opaque = o.format === 'opaque';
    const scope = o.scope ?? (opaque ? `openid profile email rubin${groupsClaim ? ' groups' : ''}` : API_SCOPE);
    const grant = new provider.Grant({ accountId: username, clientId });
    const oidcScope = scope.split(' ').filter((s) => s && s !== API_SCOPE).join(' ');
    if (oidcScope) grant.addOIDCScope(oidcScope);
    if (!opaque) grant.addResourceScope(API_RESOURCE, API_SCOPE);
    const grantId = await grant.save();
    const expiresIn = o.expiresIn ?? 600;
    const now = Math.floor(Date.now() / 1000);
    const token = new provider.AccessToken({
      accountId: username,
      client,
      grantId,
      gty: 'authorization_code',
      scope,
      // An explicit exp in the past is how the provider's own code would
      // produce an expired token; expiresIn alone must be positive.
      ...(expiresIn > 0 ? { expiresIn } : { iat: now - 600 + expiresIn, exp: now + expiresIn - 1 }),
      ...(opaque ? {} : { resourceServer: new provider.ResourceServer(API_RESOURCE, { scope: API_SCOPE, audience: o.audience ?? apiAudience, accessTokenFormat: 'jwt', accessTokenTTL: expiresIn }) }),
    });
    if (opaque && expiresIn <= 0) throw new Error('expired opaque tokens cannot be minted; revoke one instead');
    return token.save();
  }

  async function signJwt(payload: JWTPayload, o: { signer?: 'provider' | 'foreign'; header?: Partial<JWTHeaderParameters> } = {}): Promise<string> {
    const key = o.signer === 'foreign' ? foreignKey : providerKey;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt', ...o.header }).sign(key.privateKey);
  }

  const unsignedJwt = (payload: JWTPayload): string => `${b64json({ alg: 'none', typ: 'at+jwt' })}.${b64json(payload)}.`;

  async function revoke(token: string): Promise<void> {
    const found = await provider.AccessToken.find(token);
    if (!found) throw new Error('no such opaque access token');
    await found.destroy();
  }

  return {
    issuer,
    provider,
    accounts,
    clients,
    apiResource: API_RESOURCE,
    apiAudience,
    userInfoUrl: `${issuer}/auth/api/v1/user-info`,
    scopes: Object.keys(claims).join(' '),
    authorize,
    loginWithFetch,
    tokenFor,
    signJwt,
    unsignedJwt,
    revoke,
    hits: (pathname) => hits.get(pathname) ?? 0,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * Just enough of a browser's cookie store for one host: the provider scopes
 * its interaction cookies by path, and sending one to the wrong path would
 * hide bugs a real browser would expose.
 */
export class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(requestUrl: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = requestUrl.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired || value === '') this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function signingKey(label: string): Promise<{ kid: string; privateKey: CryptoKey; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `${label}-${randomBytes(4).toString('hex')}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, privateJwk, publicJwk };
}

function basicAuth(c: TestClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`;
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}


/**
 * The bridge's identity configuration for this provider, as the bridge would
 * be configured against a generic OIDC server (groups in a claim). Any
 * loopback port works for redirectUri because the web client is registered
 * as a native app.
 */
export function bridgeIdentityConfig(op: StartedOidcProvider, over: Partial<IdentityConfig> = {}): IdentityConfig {
  return {
    issuer: op.issuer,
    clientId: op.clients.web.clientId,
    clientSecret: op.clients.web.clientSecret,
    redirectUri: 'http://127.0.0.1:8099/auth/callback',
    scopes: op.scopes,
    audiences: [op.apiAudience],
    usernameClaim: 'sub',
    groupsClaim: 'groups',
    reviewerGroups: ['epo-reviewers'],
    adminGroups: ['epo-admins'],
    allowHttp: true,
    ...over,
  };
}
