import { pino, type Logger as Pino } from 'pino';

/**
 * Structured logs. Anything that looks like a credential is redacted by key
 * wherever it appears, so a careless `log.info({ config })` cannot leak one.
 */
export const REDACT_PATHS = [
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.refresh_token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  '*.cookie',
  '*.BUTLER_TOKEN',
  '*.S3_SECRET_ACCESS_KEY',
  '*.SESSION_SECRET',
  '*.OIDC_CLIENT_SECRET',
  '*.clientSecret',
  '*.client_secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'token',
  'authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Pino {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'rsp-zooniverse-bridge' } }, destination as never);
}
