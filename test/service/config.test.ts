import { describe, expect, it } from 'vitest';
import { loadConfig, maskConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/app/logger.js';
import { Writable } from 'node:stream';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ BRIDGE_MODE: 'dev', PORT: 8080, STORAGE: 'fs', WORKER_CONCURRENCY: 2 });
    expect(c.DATABASE_URL).toBeUndefined();
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
    const c = loadConfig({ DATABASE_URL: 'postgres://bridge:s3cret@db:5432/bridge', BUTLER_TOKEN: 'gt-abc.def', S3_SECRET_ACCESS_KEY: 'xyz' });
    const m = JSON.stringify(maskConfig(c));
    expect(m).not.toMatch(/s3cret|gt-abc|xyz/);
    expect(m).toContain('postgres://bridge:***@db:5432/bridge');
  });

  it('masks passwords in query strings, a lone token as user, and credentials in any URL setting', () => {
    const c = loadConfig({
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
