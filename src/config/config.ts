import { z } from 'zod';
import { QUEUE_NAMES } from '../domain/jobs.js';

/**
 * Service configuration, parsed once from the environment at start-up.
 * A bad value stops the process with the variable named; secrets never
 * appear in messages (see maskConfig).
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * What is wrong with a selection of queues for a worker process (WORKER_QUEUES,
 * `bridge serve --queues`), naming the valid ones; undefined when nothing is.
 */
export function queueSelectionProblem(names: readonly string[]): string | undefined {
  const known: readonly string[] = QUEUE_NAMES;
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) return `unknown queue${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the queues are ${known.join(', ')}`;
  if (!names.length) return `names no queue; the queues are ${known.join(', ')}`;
  return undefined;
}

export const SECRET_KEYS = ['S3_SECRET_ACCESS_KEY', 'BUTLER_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'SESSION_SECRET', 'OIDC_CLIENT_SECRET', 'ZOONIVERSE_CLIENT_SECRET'] as const;

export const configSchema = z.object({
  /** Production unless `dev` is asked for; dev (dev sign-in, trusted dev headers) only listens on loopback. */
  BRIDGE_MODE: z.enum(['dev', 'production']).default('production'),
  PORT: int(0, 65535).default(8080),
  /** Listen address; 0.0.0.0 in containers, loopback by default. */
  HOST: z.string().default('127.0.0.1'),
  PUBLIC_BASE_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^/?#]*(\/\d{1,5})?\/?$/, 'must be a redis:// URL whose path, if any, is the database index (redis://host:6379/2)')
    .optional(),
  /** Prefix of every queue key in Redis; default: derived from this deployment's database, so two deployments sharing a Redis database never take each other's jobs. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1-40 letters, digits, "_", "." or "-"')
    .optional(),
  STORAGE: z.enum(['fs', 's3']).default('fs'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_QUARANTINE_BUCKET: z.string().optional(),
  S3_PUBLIC_BUCKET: z.string().optional(),
  S3_PUBLIC_BASE_URL: z.string().url().optional(),
  S3_REQUEST_TIMEOUT_SECONDS: int(1, 3600).default(120),
  BUTLER_URL: z.string().url().optional(),
  BUTLER_TOKEN: z.string().optional(),
  /** Attempts per Butler request inside one job (the job itself retries on top). */
  BUTLER_RETRY_ATTEMPTS: int(1, 20).default(6),
  BUTLER_RETRY_BASE_MS: int(1, 60_000).default(500),
  /** Directory under which 'prefix' collections (retrieve-artifacts output) may live. */
  ARTIFACT_ROOT: z.string().min(1).default('./data/artifacts'),
  STORAGE_DIR: z.string().min(1).optional(),
  WORKER_CONCURRENCY: int(1, 64).default(2),
  /**
   * Threads of the process's one conversion pool, started when first needed
   * and shared by every convert job of the process. Default: all cores
   * (conversion is the CPU-bound stage; the rest mostly waits on I/O).
   */
  CONVERT_THREADS: int(1, 64).optional(),
  /**
   * Convert jobs (band groups) a worker process runs at once. Their stamps
   * share the pool's threads, so more jobs do not add CPU; two let one
   * group's reading and recording overlap another's conversion. Each holds
   * its group's band files in memory. Default: 2.
   */
  CONVERT_CONCURRENCY: int(1, 64).default(2),
  /**
   * The queues a worker process takes jobs from, comma-separated (e.g.
   * `convert` for conversion-only workers added with `--scale`); unset: all.
   * `bridge serve --queues` overrides it.
   */
  WORKER_QUEUES: list
    .superRefine((names, ctx) => {
      const problem = queueSelectionProblem(names);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  SWEEP_INTERVAL_SECONDS: int(5, 86_400).default(60),
  /**
   * How long a reviewer's approval waits before it is published; Undo takes
   * it back until then (a bulk approve of the wrong page costs nothing).
   * Admins may override it per collection, or publish at once.
   */
  PUBLISH_DELAY_SECONDS: int(0, 7 * 86_400).default(600),
  /** How long the review page's signed preview URLs work (seconds); GET /review/images/refresh renews them. */
  MEDIA_URL_TTL_SECONDS: int(5, 86_400).default(600),
  SHUTDOWN_TIMEOUT_SECONDS: int(1, 3600).default(30),
  /** How long a job's lock lasts before a dead worker's job is taken over. */
  JOB_LOCK_SECONDS: int(2, 600).default(30),
  DEFAULT_POLL_INTERVAL_SECONDS: int(10, 7 * 86_400).default(900),
  /** How often each Zooniverse project with the bridge's subjects is asked for new classifications (results loop). */
  RESULTS_PULL_INTERVAL_SECONDS: int(30, 7 * 86_400).default(300),
  /** The data-rights policy (YAML or JSON); loaded and checked at start-up. */
  POLICY_FILE: z.string().min(1).optional(),
  /** Butler repository label -> data release (YAML or JSON, see domain/releases.ts); default: the built-in mapping. */
  RELEASES_FILE: z.string().min(1).optional(),

  // Identity: any OIDC provider (Gafaelfawr on the RSP).
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  OIDC_SCOPES: z.string().default('openid profile email'),
  /** Accepted `aud` of bearer JWTs, comma-separated; default the client id. */
  OIDC_AUDIENCES: list.optional(),
  /** Claim holding the RSP username: `sub` on Gafaelfawr. */
  OIDC_USERNAME_CLAIM: z.string().min(1).default('sub'),
  /** Claim holding groups, for providers that send them; Gafaelfawr does not. */
  OIDC_GROUPS_CLAIM: z.string().min(1).optional(),
  /** Gafaelfawr's user-info URL (…/auth/api/v1/user-info), asked for groups with the user's token. */
  OIDC_USER_INFO_GROUPS_URL: z.string().url().optional(),
  /** A scope bearer tokens must carry (e.g. Gafaelfawr's `exec:portal`); unset: none required. */
  OIDC_REQUIRED_SCOPE: z.string().min(1).optional(),
  /** Dev and tests only: an http:// issuer. */
  OIDC_ALLOW_HTTP: bool.default(false),
  REVIEWER_GROUPS: list.default(['epo-reviewers']),
  ADMIN_GROUPS: list.default(['epo-admins']),
  WEBHOOK_ALLOWED_HOSTS: list.default([]), // webhook hosts exempt from the private-address check (comma-separated)
  /** Signs short-lived media URLs; required in production. */
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_TTL_HOURS: int(1, 24 * 30).default(12),
  /** A browser session's groups and roles are re-read from the provider (a new sign-in) after this long. */
  SESSION_ROLES_REFRESH_SECONDS: int(1, 86_400).default(300),

  // Zooniverse (Panoptes): the EPO application's client_credentials.
  /** Staging first; production is https://www.zooniverse.org. */
  ZOONIVERSE_BASE_URL: z.string().url().default('https://panoptes-staging.zooniverse.org'),
  ZOONIVERSE_CLIENT_ID: z.string().min(1).optional(),
  ZOONIVERSE_CLIENT_SECRET: z.string().min(1).optional(),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') relevant[key] = v;
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0]);
      const shown = (SECRET_KEYS as readonly string[]).includes(key) ? '(value hidden)' : JSON.stringify(relevant[key]);
      return `${key}: ${i.message} ${relevant[key] === undefined ? '(not set)' : shown}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  if (c.STORAGE === 's3') {
    const missing = (['S3_QUARANTINE_BUCKET', 'S3_PUBLIC_BUCKET'] as const).filter((k) => !c[k]);
    if (missing.length) throw new ConfigError(`invalid configuration:\n  ${missing.map((k) => `${k}: required when STORAGE=s3 (not set)`).join('\n  ')}`);
    if (c.S3_QUARANTINE_BUCKET === c.S3_PUBLIC_BUCKET) {
      throw new ConfigError('invalid configuration:\n  S3_QUARANTINE_BUCKET: must differ from S3_PUBLIC_BUCKET (quarantine is private)');
    }
  }
  const oidc = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const;
  const set = oidc.filter((k) => c[k]);
  if (set.length && set.length < oidc.length) {
    throw new ConfigError(`invalid configuration:\n  ${oidc.filter((k) => !c[k]).map((k) => `${k}: required with ${set.join(', ')} (not set)`).join('\n  ')}`);
  }
  if (!!c.ZOONIVERSE_CLIENT_ID !== !!c.ZOONIVERSE_CLIENT_SECRET) {
    throw new ConfigError(`invalid configuration:\n  ${c.ZOONIVERSE_CLIENT_ID ? 'ZOONIVERSE_CLIENT_SECRET' : 'ZOONIVERSE_CLIENT_ID'}: required with the other Zooniverse credential (not set)`);
  }
  if (c.BRIDGE_MODE === 'production') {
    const problems = [...oidc, 'SESSION_SECRET', 'PUBLIC_BASE_URL'].filter((k) => !c[k as keyof Config]).map((k) => `${k}: required in production (not set)`);
    if (c.PUBLIC_BASE_URL && !c.PUBLIC_BASE_URL.startsWith('https://')) problems.push(`PUBLIC_BASE_URL: must be an https:// URL in production ${JSON.stringify(c.PUBLIC_BASE_URL)}`);
    if (c.OIDC_ISSUER && !c.OIDC_ISSUER.startsWith('https://')) problems.push(`OIDC_ISSUER: must be an https:// URL in production ${JSON.stringify(c.OIDC_ISSUER)}`);
    if (c.OIDC_ALLOW_HTTP) problems.push('OIDC_ALLOW_HTTP: not allowed in production');
    if (problems.length) {
      throw new ConfigError(
        `invalid configuration (BRIDGE_MODE=production, the default):\n  ${problems.join('\n  ')}\n` +
          'Production needs an OIDC provider (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET), a fixed SESSION_SECRET (32+ characters) and an https PUBLIC_BASE_URL.\n' +
          'For a local trial on this machine only, set BRIDGE_MODE=dev (listens on 127.0.0.1; dev sign-in, anyone may act as any user).',
      );
    }
  } else if (!isLoopback(c.HOST)) {
    throw new ConfigError(
      `invalid configuration:\n  HOST: ${JSON.stringify(c.HOST)} is not a loopback address, and BRIDGE_MODE=dev lets anyone who can reach the service act as any user (admin included).\n` +
        'Use HOST=127.0.0.1 (or ::1, localhost) with BRIDGE_MODE=dev, or configure production (unset BRIDGE_MODE, set the OIDC_* variables, SESSION_SECRET and an https PUBLIC_BASE_URL).',
    );
  }
  return c;
}

/** Loopback only: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return !!m && m.slice(1).every((x) => Number(x) <= 255) && m[1] === '127';
}

/** A copy safe to log: secrets replaced, credentials stripped from every URL. */
export function maskConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  for (const [k, v] of Object.entries(out)) {
    if (v === undefined) continue;
    if ((SECRET_KEYS as readonly string[]).includes(k)) out[k] = k.endsWith('_URL') ? maskUrl(String(v)) : '***';
    else if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) out[k] = maskUrl(v);
  }
  return out;
}

/** Query parameters that carry credentials in the URLs operators paste (libpq, presigned links, tokens). */
const SECRET_PARAMS = /^(password|passwd|pass|pwd|sslpassword|token|access_token|refresh_token|id_token|secret|client_secret|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)$/i;

/**
 * A URL with its credentials hidden: the password of the userinfo (and the
 * user itself when there is no password, since a lone user is often a
 * token), and secret-looking query parameters. Unparseable input is hidden whole.
 */
export function maskUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    else if (url.username) url.username = '***';
    for (const k of [...url.searchParams.keys()]) if (SECRET_PARAMS.test(k)) url.searchParams.set(k, '***');
    return url.toString();
  } catch {
    return '***';
  }
}
