import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { InvalidTokenError, OidcIdentity } from '../../src/identity/oidc-identity.js';
import { bridgeIdentityConfig, startOidcProvider, type StartedOidcProvider } from '../support/oidc-provider.js';

/** Bearer tokens from notebooks: JWTs checked locally against the JWKS, opaque ones at userinfo. */
let op: StartedOidcProvider;
let foreign: StartedOidcProvider;
let identity: OidcIdentity;

beforeAll(async () => {
  [op, foreign] = await Promise.all([startOidcProvider(), startOidcProvider()]);
  identity = await OidcIdentity.discover(bridgeIdentityConfig(op));
});
afterAll(async () => {
  await Promise.all([op?.close(), foreign?.close()]);
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({ iss: op.issuer, aud: op.apiAudience, sub: 'alien', iat: now(), exp: now() + 300, ...over });

/** Every refusal in this file goes through here, so every one is checked for echoing the token. */
async function refused(token: string, why: RegExp, by = identity): Promise<InvalidTokenError> {
  const err = await by.verifyBearer(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'token was accepted').toBeInstanceOf(InvalidTokenError);
  const e = err as InvalidTokenError;
  expect(e.code).toBe('invalid_token');
  expect(e.message).toMatch(why);
  for (const part of token.split('.').filter((p) => p.length >= 8)) {
    expect(e.message).not.toContain(part);
    expect(JSON.stringify(e.detail ?? {})).not.toContain(part);
  }
  return e;
}

describe('JWT access tokens', () => {
  it('accepts the access token a notebook gets from the token endpoint', async () => {
    const { accessToken } = await op.loginWithFetch('alien', 'notebook');
    const who = await identity.verifyBearer(accessToken);
    expect(who).toMatchObject({ username: 'alien', roles: ['pi'], groups: ['g_users'], dataRights: ['dp1', 'dr1'] });
    expect(who.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(who.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('roles from the groups claim', async () => {
    expect((await identity.verifyBearer(await op.tokenFor('rev'))).roles).toEqual(['pi', 'reviewer']);
    expect((await identity.verifyBearer(await op.tokenFor('boss'))).roles).toEqual(['pi', 'admin']);
  });

  it('accepts any configured audience', async () => {
    const multi = await OidcIdentity.discover(bridgeIdentityConfig(op, { audiences: ['bridge-api-v0', op.apiAudience] }));
    expect((await multi.verifyBearer(await op.tokenFor('other'))).username).toBe('other');
  });

  it('refuses an expired token', async () => {
    await refused(await op.tokenFor('alien', { expiresIn: -30 }), /expired/);
    await refused(await op.signJwt(claims({ iat: now() - 600, exp: now() - 5 })), /expired/);
  });

  it('honours clock tolerance for just-expired tokens, and no further', async () => {
    const tolerant = await OidcIdentity.discover(bridgeIdentityConfig(op, { clockToleranceSeconds: 30 }));
    expect((await tolerant.verifyBearer(await op.signJwt(claims({ exp: now() - 5 })))).username).toBe('alien');
    await refused(await op.signJwt(claims({ exp: now() - 60 })), /expired/, tolerant);
  });

  it('refuses a token that is not valid yet', async () => {
    await refused(await op.signJwt(claims({ nbf: now() + 600 })), /not valid yet/);
  });

  it('refuses a token without an expiry', async () => {
    await refused(await op.signJwt(claims({ exp: undefined })), /no expiry/);
  });

  it('refuses a token from another issuer', async () => {
    await refused(await foreign.tokenFor('alien'), /different issuer/);
  });

  it('refuses a token claiming our issuer but signed by a foreign key', async () => {
    await refused(await op.signJwt(claims(), { signer: 'foreign' }), /key the provider does not publish/);
    // Same kid as the provider's key, different key material: the signature is what gives it away.
    const kid = JSON.parse(Buffer.from((await op.tokenFor('alien')).split('.')[0], 'base64url').toString()).kid as string;
    await refused(await op.signJwt(claims(), { signer: 'foreign', header: { kid } }), /bad token signature/);
  });

  it('refuses a token for another audience', async () => {
    await refused(await op.tokenFor('alien', { audience: 'some-other-api' }), /wrong audience/);
  });

  it("refuses the web client's ID token: it is addressed to the client, not the API", async () => {
    const { idToken } = await op.loginWithFetch('alien', 'web');
    await refused(idToken, /wrong audience/);
  });

  it("refuses the web client's ID token even where the web client id is an accepted audience", async () => {
    const lax = await OidcIdentity.discover(bridgeIdentityConfig(op, { audiences: [op.apiAudience, op.clients.web.clientId] }));
    const { idToken, accessToken } = await op.loginWithFetch('alien', 'web');
    await refused(idToken, /an ID token is not a bearer token/, lax);
    // The same shape without a nonce (ID tokens from a refresh have none), typed JWT or untyped.
    const web = { aud: op.clients.web.clientId, azp: op.clients.web.clientId };
    await refused(await op.signJwt(claims(web), { header: { typ: 'JWT' } }), /an ID token is not a bearer token/, lax);
    await refused(await op.signJwt(claims(web), { header: { typ: undefined } }), /an ID token is not a bearer token/, lax);
    await refused(await op.signJwt(claims({ aud: op.apiAudience, nonce: 'n-123', scope: 'bridge:api' }), { header: { typ: 'JWT' } }), /an ID token is not a bearer token/, lax);
    await refused(await op.signJwt(claims({ aud: op.apiAudience, at_hash: 'abc' }), { header: { typ: undefined } }), /an ID token is not a bearer token/, lax);
    // Access tokens still pass: typed at+jwt, or carrying what access tokens carry.
    expect((await lax.verifyBearer(await op.tokenFor('alien'))).username).toBe('alien');
    expect((await lax.verifyBearer(await op.signJwt(claims({ ...web, scope: 'openid', client_id: op.clients.web.clientId }), { header: { typ: 'JWT' } }))).username).toBe('alien');
    expect((await lax.verifyBearer(await op.signJwt(claims({ ...web, nonce: 'x' }), { header: { typ: 'at+jwt' } }))).username).toBe('alien');
    expect(typeof accessToken).toBe('string');
  });

  it('with OIDC_REQUIRED_SCOPE, refuses JWTs without that scope', async () => {
    const scoped = await OidcIdentity.discover(bridgeIdentityConfig(op, { requiredScope: 'bridge:api' }));
    expect((await scoped.verifyBearer(await op.tokenFor('alien'))).username).toBe('alien');
    expect((await scoped.verifyBearer(await op.signJwt(claims({ scp: ['x', 'bridge:api'] })))).username).toBe('alien');
    await refused(await op.signJwt(claims({ scope: 'openid bridge:apix' })), /lacks the scope bridge:api/, scoped);
    await refused(await op.signJwt(claims()), /lacks the scope bridge:api/, scoped);
  });

  it('refuses a tampered signature or payload', async () => {
    const [h, p, s] = (await op.tokenFor('alien')).split('.');
    const mid = Math.floor(s.length / 2);
    const flipped = s.slice(0, mid) + (s[mid] === 'A' ? 'B' : 'A') + s.slice(mid + 1);
    await refused(`${h}.${p}.${flipped}`, /bad token signature/);
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const promoted = Buffer.from(JSON.stringify({ ...payload, sub: 'boss', groups: ['epo-admins'] })).toString('base64url');
    await refused(`${h}.${promoted}.${s}`, /bad token signature/);
  });

  it('refuses alg none and symmetric algorithms', async () => {
    await refused(op.unsignedJwt(claims()), /unsigned/);
    // HS256 keyed with the client secret: a classic confusion attack.
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(op.clients.web.clientSecret));
    await refused(hs, /algorithm not accepted/);
  });

  it('refuses JWTs that are not access tokens by type', async () => {
    await refused(await op.signJwt(claims(), { header: { typ: 'logout+jwt' } }), /not an access token/);
  });

  it('refuses a username that is not an RSP username', async () => {
    await refused(await op.signJwt(claims({ sub: 'Robert"); DROP TABLE' })), /not a valid RSP username/);
    await refused(await op.signJwt(claims({ sub: undefined })), /no sub claim/);
  });

  it('refuses garbage and oversized headers', async () => {
    await refused('', /no bearer token/);
    await refused('x'.repeat(20_000), /too long/);
    await refused('eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln', /malformed JWT/);
  });
});

describe('opaque tokens (userinfo)', () => {
  it('accepts an opaque token through the userinfo endpoint', async () => {
    const token = await op.tokenFor('alien', { format: 'opaque' });
    expect(token.split('.')).toHaveLength(1);
    expect(await identity.verifyBearer(token)).toMatchObject({ username: 'alien', roles: ['pi'], dataRights: ['dp1', 'dr1'], email: 'alien@example.org' });
  });

  it("accepts the web client's own access token from a real login", async () => {
    const { accessToken } = await op.loginWithFetch('rev', 'web');
    expect(await identity.verifyBearer(accessToken)).toMatchObject({ username: 'rev', roles: ['pi', 'reviewer'] });
  });

  it('refuses unknown opaque tokens, Gafaelfawr-shaped or not', async () => {
    await refused('gt-Qz7vTbB1yGZ1bWcRr8LbAg.j9Xm0rCqA2W1sUvE4kTn5w', /unknown, expired or revoked/);
    await refused('not-a-token-at-all', /unknown, expired or revoked/);
  });

  it('refuses a revoked token once the short cache has let go of it', async () => {
    const uncached = await OidcIdentity.discover(bridgeIdentityConfig(op, { tokenCacheSeconds: 0 }));
    const cached = await OidcIdentity.discover(bridgeIdentityConfig(op));
    const token = await op.tokenFor('other', { format: 'opaque' });
    expect((await uncached.verifyBearer(token)).username).toBe('other');
    expect((await cached.verifyBearer(token)).username).toBe('other');
    await op.revoke(token);
    await refused(token, /unknown, expired or revoked/, uncached);
    // Revocation is seen within tokenCacheSeconds: the cached answer stands until then.
    expect((await cached.verifyBearer(token)).username).toBe('other');
  });

  it('one userinfo lookup serves a burst of calls and the next minute', async () => {
    const id = await OidcIdentity.discover(bridgeIdentityConfig(op));
    const token = await op.tokenFor('alien', { format: 'opaque' });
    const before = op.hits('/me');
    const all = await Promise.all(Array.from({ length: 5 }, () => id.verifyBearer(token)));
    expect(all.every((w) => w.username === 'alien')).toBe(true);
    await id.verifyBearer(token);
    expect(op.hits('/me') - before).toBe(1);
  });

  it('refuses an opaque token without the openid scope', async () => {
    await refused(await op.tokenFor('alien', { format: 'opaque', scope: 'profile' }), /insufficient scope/);
  });
});

describe('provider outages', () => {
  it('reports an unreachable provider as upstream trouble, not a bad token', async () => {
    const gone = await startOidcProvider();
    const id = await OidcIdentity.discover(bridgeIdentityConfig(gone));
    const [jwt, opaque] = [await gone.tokenFor('alien'), await gone.tokenFor('alien', { format: 'opaque' })];
    await gone.close();
    await expect(id.verifyBearer(jwt)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    await expect(id.verifyBearer(opaque)).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });
});
