import { describe, expect, it } from 'vitest';
import { loadConfig, maskConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/app/logger.js';
import { Writable } from 'node:stream';

describe('configuration', () => {
  it('has working defaults for the embedded setup, once dev is asked for', () => {
    const c = loadConfig({ BRIDGE_MODE: 'dev' });
    expect(c).toMatchObject({ BRIDGE_MODE: 'dev', HOST: '127.0.0.1', PORT: 8080, STORAGE: 'fs', WORKER_CONCURRENCY: 2 });
    expect(c.DATABASE_URL).toBeUndefined();
  });

  const PROD = { OIDC_ISSUER: 'https://rsp.example.org', OIDC_CLIENT_ID: 'bridge', OIDC_CLIENT_SECRET: 'x', SESSION_SECRET: 's'.repeat(32), PUBLIC_BASE_URL: 'https://bridge.example.org' };

  it('is production unless told otherwise, and production names everything it needs', () => {
    let msg = '';
    try {
      loadConfig({ HOST: '0.0.0.0', STORAGE: 's3', S3_QUARANTINE_BUCKET: 'q', S3_PUBLIC_BUCKET: 'p', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r' });
    } catch (e) {
      msg = (e as Error).message;
    }
    for (const k of ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'SESSION_SECRET', 'PUBLIC_BASE_URL', 'BRIDGE_MODE=production', 'BRIDGE_MODE=dev']) expect(msg).toContain(k);
    expect(loadConfig({ ...PROD, HOST: '0.0.0.0' }).BRIDGE_MODE).toBe('production');
    expect(() => loadConfig({ ...PROD, PUBLIC_BASE_URL: 'http://bridge.example.org' })).toThrow(/PUBLIC_BASE_URL: must be an https/);
    expect(() => loadConfig({ ...PROD, OIDC_ISSUER: 'http://rsp.example.org' })).toThrow(/OIDC_ISSUER: must be an https/);
    expect(() => loadConfig({ ...PROD, OIDC_ALLOW_HTTP: 'true' })).toThrow(/OIDC_ALLOW_HTTP: not allowed/);
    expect(() => loadConfig({ ...PROD, BRIDGE_MODE: 'Dev' })).toThrow(/BRIDGE_MODE/);
  });

  it('dev mode only listens on loopback', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'bridge.example.org', '128.0.0.1', '127.0.0.1.nip.io']) {
      expect(() => loadConfig({ BRIDGE_MODE: 'dev', HOST: host }), host).toThrow(/HOST: .*not a loopback address, and BRIDGE_MODE=dev/);
    }
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(loadConfig({ BRIDGE_MODE: 'dev', HOST: host }).HOST).toBe(host);
  });

  it('fails fast naming the variable, without showing secret values', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT: .*"eighty"/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).toThrow(/DATABASE_URL: must be a postgres:\/\/ URL \(value hidden\)/);
    try {
      loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ STORAGE: 's3' })).toThrow(/S3_QUARANTINE_BUCKET: required when STORAGE=s3/);
    expect(() => loadConfig({ STORAGE: 's3', S3_QUARANTINE_BUCKET: 'b', S3_PUBLIC_BUCKET: 'b' })).toThrow(/must differ/);
  });

  it('masks secrets for logging', () => {
    const c = loadConfig({ BRIDGE_MODE: 'dev', DATABASE_URL: 'postgres://bridge:s3cret@db:5432/bridge', BUTLER_TOKEN: 'gt-abc.def', S3_SECRET_ACCESS_KEY: 'xyz' });
    const m = JSON.stringify(maskConfig(c));
    expect(m).not.toMatch(/s3cret|gt-abc|xyz/);
    expect(m).toContain('postgres://bridge:***@db:5432/bridge');
  });

  it('masks passwords in query strings, a lone token as user, and credentials in any URL setting', () => {
    const c = loadConfig({
      BRIDGE_MODE: 'dev',
      DATABASE_URL: 'postgres://db:5432/bridge?user=bridge&password=qs-hunter2&sslmode=require',
      REDIS_URL: 'rediss://:redis-pw-7@cache:6380/2',
      BUTLER_URL: 'https://gt-lonetoken@butler.example/api/butler?token=gt-querytoken',
      PUBLIC_BASE_URL: 'https://cdn.example/public?X-Amz-Signature=sig-123&X-Amz-Credential=cred-456',
    });
    const m = JSON.stringify(maskConfig(c));
    expect(m).not.toMatch(/qs-hunter2|redis-pw-7|gt-lonetoken|gt-querytoken|sig-123|cred-456/);
    expect(m).toContain('sslmode=require');
    expect(m).toContain('butler.example/api/butler');
  });

  it('the logger redacts credentials wherever they appear', async () => {
    let out = '';
    const sink = new Writable({ write(chunk, _e, cb) { out += chunk; cb(); } });
    const log = createLogger('info', sink);
    log.info({ headers: { authorization: 'Bearer gt-secret-1' }, butler: { token: 'gt-secret-2' }, config: { BUTLER_TOKEN: 'gt-secret-3' } }, 'x');
    await new Promise((r) => setTimeout(r, 10));
    expect(out).toContain('[redacted]');
    expect(out).not.toMatch(/gt-secret/);
  });
});
