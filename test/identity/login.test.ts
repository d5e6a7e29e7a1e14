import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { LoginFailedError, OidcIdentity, type LoginFlow } from '../../src/identity/oidc-identity.js';
import { bridgeIdentityConfig, startOidcProvider, type StartedOidcProvider } from '../support/oidc-provider.js';

/** Browser login (authorization code + PKCE) against a real in-process OIDC provider. */
let op: StartedOidcProvider;
let identity: OidcIdentity;

beforeAll(async () => {
  op = await startOidcProvider();
  identity = await OidcIdentity.discover(bridgeIdentityConfig(op));
});
afterAll(async () => {
  await op?.close();
});

async function browse(username: string, returnTo = '/'): Promise<{ callback: URL; flow: LoginFlow; authorizationUrl: URL }> {
  const { authorizationUrl, flow } = await identity.beginLogin(returnTo);
  return { callback: await op.authorize(authorizationUrl, username), flow, authorizationUrl: new URL(authorizationUrl) };
}

const refusal = async (p: Promise<unknown>): Promise<LoginFailedError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginFailedError);
  return err as LoginFailedError;
};

describe('login with authorization code + PKCE', () => {
  it('asks for a code with PKCE S256, state and nonce at the discovered endpoint', async () => {
    const { authorizationUrl: url, flow } = await identity.beginLogin('/review/queue?page=2');
    const u = new URL(url);
    expect(u.origin + u.pathname).toBe(`${op.issuer}/auth`);
    expect(Object.fromEntries(u.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'bridge-web',
      redirect_uri: 'http://127.0.0.1:8099/auth/callback',
      code_challenge_method: 'S256',
      code_challenge: createHash('sha256').update(flow.codeVerifier).digest('base64url'),
      state: flow.state,
      nonce: flow.nonce,
    });
    expect(u.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'rubin']));
    expect(flow.returnTo).toBe('/review/queue?page=2');
    expect(url).not.toContain(flow.codeVerifier);
  });

  it('a PI logs in: username from sub, role pi, data rights and profile', async () => {
    const { callback, flow } = await browse('alien', '/collections');
    expect(callback.searchParams.get('code')).toBeTruthy();
    const { identity: who, idToken } = await identity.completeLogin(callback, flow);
    expect(who).toMatchObject({ username: 'alien', roles: ['pi'], dataRights: ['dp1', 'dr1'], name: 'Alien PI', email: 'alien@example.org' });
    expect(who.groups).toEqual(['g_users']);
    expect(who.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(idToken?.split('.')).toHaveLength(3);
    expect(Object.isFrozen(who.roles)).toBe(true);
  });

  it('reviewer and admin roles come from groups', async () => {
    const rev = await browse('rev');
    expect((await identity.completeLogin(rev.callback, rev.flow)).identity).toMatchObject({ username: 'rev', roles: ['pi', 'reviewer'], dataRights: ['dp1'] });
    const boss = await browse('boss');
    expect((await identity.completeLogin(boss.callback, boss.flow)).identity).toMatchObject({ username: 'boss', roles: ['pi', 'admin'], dataRights: [] });
  });

  it('the callback URL seen behind a proxy does not matter: only its query is used', async () => {
    const { callback, flow } = await browse('other');
    const seenByServer = new URL(`http://10.0.0.7:3000/auth/callback${callback.search}`);
    expect((await identity.completeLogin(seenByServer, flow)).identity.username).toBe('other');
  });

  it('refuses a callback whose state is not the one issued', async () => {
    const { callback, flow } = await browse('alien');
    const err = await refusal(identity.completeLogin(callback, { ...flow, state: client.randomState() }));
    expect(err.code).toBe('login_failed');
    expect(err.message).toMatch(/state/);
  });

  it('refuses a replayed code', async () => {
    const { callback, flow } = await browse('alien');
    await identity.completeLogin(callback, flow);
    const err = await refusal(identity.completeLogin(callback, flow));
    expect(err.message).toMatch(/invalid_grant/);
  });

  it('refuses when the PKCE verifier does not match the challenge', async () => {
    // The provider keeps the reason to itself (invalid_grant); its event says which check failed.
    const details: string[] = [];
    const listener = (...args: unknown[]) => details.push(String((args[1] as { error_detail?: string }).error_detail));
    op.provider.on('grant.error', listener);
    try {
      const { callback, flow } = await browse('alien');
      const err = await refusal(identity.completeLogin(callback, { ...flow, codeVerifier: client.randomPKCECodeVerifier() }));
      expect(err.message).toMatch(/invalid_grant/);
      expect(details.join()).toMatch(/code_verifier does not match code_challenge/);
    } finally {
      op.provider.off('grant.error', listener);
    }
  });

  it('refuses an ID token whose nonce is not the one issued', async () => {
    const { callback, flow } = await browse('alien');
    const err = await refusal(identity.completeLogin(callback, { ...flow, nonce: client.randomNonce() }));
    expect(err.message).toMatch(/nonce/);
  });

  it('refuses an error response from the provider, saying which', async () => {
    const { flow } = await identity.beginLogin('/');
    const callback = new URL(`http://127.0.0.1:8099/auth/callback?error=access_denied&error_description=user+said+no&state=${flow.state}&iss=${encodeURIComponent(op.issuer)}`);
    const err = await refusal(identity.completeLogin(callback, flow));
    expect(err.message).toMatch(/access_denied: user said no/);
  });

  it('refuses a username claim that is not an RSP username', async () => {
    const byEmail = await OidcIdentity.discover(bridgeIdentityConfig(op, { usernameClaim: 'email' }));
    const { authorizationUrl, flow } = await byEmail.beginLogin('/');
    const callback = await op.authorize(authorizationUrl, 'alien');
    const err = await refusal(byEmail.completeLogin(callback, flow));
    expect(err.message).toMatch(/email claim is not a valid RSP username/);
    expect(err.message).not.toContain('alien@example.org');
  });

  it('never puts the code, verifier or tokens in a refusal', async () => {
    const { callback, flow } = await browse('alien');
    const code = callback.searchParams.get('code')!;
    const messages = [
      (await refusal(identity.completeLogin(callback, { ...flow, codeVerifier: client.randomPKCECodeVerifier() }))).message,
      (await refusal(identity.completeLogin(callback, { ...flow, state: client.randomState() }))).message,
    ];
    await identity.completeLogin(callback, flow);
    messages.push((await refusal(identity.completeLogin(callback, flow))).message);
    for (const m of messages) {
      expect(m).not.toContain(code);
      expect(m).not.toContain(flow.codeVerifier);
      expect(m).not.toContain(op.clients.web.clientSecret);
    }
  });

  it('keeps returnTo local so a login link cannot redirect off-site', async () => {
    for (const evil of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', '/ok\r\nSet-Cookie: x=1']) {
      expect((await identity.beginLogin(evil)).flow.returnTo).toBe('/');
    }
    expect((await identity.beginLogin('/images/42?tab=wcs')).flow.returnTo).toBe('/images/42?tab=wcs');
  });

  it('the test login form refuses unknown users', async () => {
    const { authorizationUrl } = await identity.beginLogin('/');
    await expect(op.authorize(authorizationUrl, 'nobody')).rejects.toThrow(/refused/);
  });

  it('builds the provider logout URL with the ID token hint', async () => {
    const { callback, flow } = await browse('alien');
    const { idToken } = await identity.completeLogin(callback, flow);
    const url = new URL(identity.endSessionUrl(idToken, 'http://127.0.0.1:8099/')!);
    expect(url.origin).toBe(op.issuer);
    expect(url.searchParams.get('id_token_hint')).toBe(idToken);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe('http://127.0.0.1:8099/');
    expect(url.searchParams.get('client_id')).toBe('bridge-web');
  });
});

describe('discovery', () => {
  it('refuses a plain-http issuer unless allowHttp is set', async () => {
    await expect(OidcIdentity.discover(bridgeIdentityConfig(op, { allowHttp: false }))).rejects.toThrow(/must use https/);
  });

  it('reports an unreachable provider as an upstream failure', async () => {
    await expect(OidcIdentity.discover(bridgeIdentityConfig(op, { issuer: 'http://127.0.0.1:9' }))).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });
});
