import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcIdentity, type IdentityConfig } from '../../src/identity/oidc-identity.js';
import { bridgeIdentityConfig, startOidcProvider, type StartedOidcProvider } from '../support/oidc-provider.js';

/**
 * Gafaelfawr publishes no group claim anywhere: groups come only from
 * GET /auth/api/v1/user-info with the user's token. The provider here is
 * started the same way (no `groups` scope or claim, no groups in tokens).
 */
let op: StartedOidcProvider;
let gafaelfawr: IdentityConfig;
let identity: OidcIdentity;

beforeAll(async () => {
  op = await startOidcProvider({ groupsClaim: false });
  gafaelfawr = bridgeIdentityConfig(op, { scopes: 'openid profile email rubin', groupsClaim: undefined, userInfoGroupsUrl: op.userInfoUrl });
  identity = await OidcIdentity.discover(gafaelfawr);
});
afterAll(async () => {
  await op?.close();
});

async function login(id: OidcIdentity, username: string) {
  const { authorizationUrl, flow } = await id.beginLogin('/');
  return id.completeLogin(await op.authorize(authorizationUrl, username), flow);
}

describe('Gafaelfawr mode (groups from user-info)', () => {
  it('the provider really sends no groups: a claim-based configuration sees none', async () => {
    const claimBased = await OidcIdentity.discover(bridgeIdentityConfig(op, { scopes: gafaelfawr.scopes }));
    expect((await login(claimBased, 'rev')).identity).toMatchObject({ username: 'rev', roles: ['pi'], groups: [] });
  });

  it('login: roles from user-info groups, data rights from the rubin scope', async () => {
    expect((await login(identity, 'rev')).identity).toMatchObject({ username: 'rev', roles: ['pi', 'reviewer'], groups: ['g_users', 'epo-reviewers'], dataRights: ['dp1'] });
    expect((await login(identity, 'boss')).identity.roles).toEqual(['pi', 'admin']);
    expect((await login(identity, 'alien')).identity).toMatchObject({ roles: ['pi'], dataRights: ['dp1', 'dr1'] });
  });

  it('bearer: opaque and JWT tokens both get their groups from user-info', async () => {
    expect((await identity.verifyBearer(await op.tokenFor('boss', { format: 'opaque' }))).roles).toEqual(['pi', 'admin']);
    expect((await identity.verifyBearer(await op.tokenFor('rev'))).roles).toEqual(['pi', 'reviewer']);
  });

  it("bearer: a token Gafaelfawr's OIDC userinfo will not serve (e.g. a notebook token) is judged by user-info, without data rights", async () => {
    // No openid scope: the provider's userinfo answers 403, as Gafaelfawr's does for notebook and user tokens.
    const notebookLike = await op.tokenFor('rev', { format: 'opaque', scope: 'profile' });
    expect(await identity.verifyBearer(notebookLike)).toMatchObject({ username: 'rev', roles: ['pi', 'reviewer'], dataRights: [], email: 'rev@example.org' });
    expect((await identity.verifyBearer(await op.tokenFor('alien', { format: 'opaque' }))).dataRights).toEqual(['dp1', 'dr1']);
  });

  it('with a required scope, an opaque token must show it in token-info', async () => {
    const scoped = await OidcIdentity.discover({ ...gafaelfawr, requiredScope: 'exec:portal' });
    expect((await scoped.verifyBearer(await op.tokenFor('rev', { format: 'opaque', scope: 'openid profile exec:portal' }))).roles).toEqual(['pi', 'reviewer']);
    await expect(scoped.verifyBearer(await op.tokenFor('boss', { format: 'opaque' }))).rejects.toMatchObject({ code: 'invalid_token', message: 'the token lacks the scope exec:portal' });
    await expect(scoped.verifyBearer('gt-Qz7vTbB1yGZ1bWcRr8LbAg.j9Xm0rCqA2W1sUvE4kTn5w')).rejects.toMatchObject({ code: 'invalid_token' });
    // Outside Gafaelfawr an opaque token cannot show its scopes: refused rather than guessed.
    const plain = await OidcIdentity.discover(bridgeIdentityConfig(op, { requiredScope: 'exec:portal' }));
    await expect(plain.verifyBearer(await op.tokenFor('rev', { format: 'opaque', scope: 'openid profile exec:portal' }))).rejects.toMatchObject({ code: 'invalid_token', message: /opaque tokens cannot show the scope/ });
  });

  it('bearer: a token user-info does not know is refused', async () => {
    await expect(identity.verifyBearer('gt-Qz7vTbB1yGZ1bWcRr8LbAg.j9Xm0rCqA2W1sUvE4kTn5w')).rejects.toMatchObject({ code: 'invalid_token', message: 'the user-info service refused the token' });
  });

  it('a token that userinfo accepts but user-info refuses is refused', async () => {
    // Another provider's user-info knows nothing of this provider's tokens.
    const elsewhere = await startOidcProvider({ groupsClaim: false });
    try {
      const id = await OidcIdentity.discover({ ...gafaelfawr, userInfoGroupsUrl: elsewhere.userInfoUrl });
      await expect(id.verifyBearer(await op.tokenFor('rev', { format: 'opaque' }))).rejects.toMatchObject({ code: 'invalid_token', message: 'the user-info service refused the token' });
      const { authorizationUrl, flow } = await id.beginLogin('/');
      await expect(id.completeLogin(await op.authorize(authorizationUrl, 'rev'), flow)).rejects.toMatchObject({ code: 'login_failed' });
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses an https-less user-info URL outside dev', async () => {
    await expect(OidcIdentity.discover({ ...gafaelfawr, allowHttp: false, issuer: 'https://rsp.example/' })).rejects.toThrow(/userInfoGroupsUrl must use https/);
  });

  it('an unreachable user-info service is upstream trouble', async () => {
    const id = await OidcIdentity.discover({ ...gafaelfawr, userInfoGroupsUrl: 'http://127.0.0.1:9/auth/api/v1/user-info' });
    await expect(id.verifyBearer(await op.tokenFor('rev'))).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });
});
