import express, { Router, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { caesarCredentialsValid, caesarEffectConfig, createCaesarSecret, receiveCaesarReduction, removeCaesarSecret } from '../domain/caesar-intake.js';
import type { Clock } from '../domain/ports/clock.js';
import type { Logger } from '../domain/ports/logger.js';
import type { Repositories } from '../domain/ports/repositories.js';
import { resultsCollection } from '../domain/results-table.js';
import { requireRole, UnauthenticatedError } from './auth.js';
import { problem } from './problem.js';

const uuid = z.string().uuid();

/** Where Caesar posts; mounted outside /api/v1's session, CSRF and bearer handling (see caesarIntakeRoutes). */
export const CAESAR_INTAKE_PATH = '/api/v1/caesar/collections/:id/reductions';

/** The realm Caesar's HTTP client is challenged with. */
const CHALLENGE = 'Basic realm="rsp-zooniverse-bridge caesar", charset="UTF-8"';

/** `Authorization: Basic base64(user:password)` -> its parts; anything else -> undefined. */
function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = header && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Caesar's external-effect POSTs (issue 14, optional path): HTTP Basic with
 * username = the collection id and password = its Caesar secret. Mounted on
 * the app before the authentication slot, which only knows bearer tokens and
 * sessions (it would refuse a Basic header outright); no session means no
 * CSRF to check. Its own rate limit (per caller address and collection), its
 * own 256 kB body limit, and credentials are checked before the body is read.
 * The request log records the path only: the secret travels in a header.
 */
export function caesarIntakeRoutes(d: { repos: Repositories; clock: Clock; log: Logger; perMinute?: number }): Router {
  const r = Router();
  const limiter = rateLimit({
    windowMs: 60_000,
    // Caesar posts once per subject and reducer as classifications arrive; bursts are normal. A 429 is retried by Caesar.
    limit: d.perMinute ?? 1200,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => `caesar:${req.params.id}:${ipKeyGenerator(req.ip ?? '')}`,
    handler: problem('too_many_requests', 'Too many requests', 'slow down: too many Caesar deliveries in the last minute'),
  });
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      const creds = basicCredentials(req.header('authorization'));
      const id = String(req.params.id);
      if (!creds || !uuid.safeParse(id).success || !(await caesarCredentialsValid(d.repos, id, creds.username, creds.password))) {
        res.setHeader('WWW-Authenticate', CHALLENGE);
        // One message for every failure: which part was wrong is not for an unauthenticated caller.
        throw new UnauthenticatedError('HTTP Basic credentials required: username = the collection id, password = its Caesar secret (POST /api/v1/collections/{id}/results/caesar-secret)');
      }
      next();
    } catch (e) {
      next(e);
    }
  };
  r.post(CAESAR_INTAKE_PATH, limiter, authenticate, express.json({ limit: '256kb' }), async (req, res) => {
    const out = await receiveCaesarReduction(d.repos, d.clock, String(req.params.id), req.body);
    if (out.outcome === 'ignored') d.log.info({ collectionId: req.params.id, reason: out.reason }, 'caesar delivery ignored');
    // 200 in every accepted case, ignored included: Caesar counts only 200/201/204 as success and retries anything else.
    res.status(200).json({ stored: out.outcome === 'stored', outcome: out.outcome, ...(out.reason ? { reason: out.reason } : {}), ...(out.imageId ? { imageId: out.imageId } : {}) });
  });
  return r;
}

/**
 * The owner's side under /api/v1: create or rotate the collection's Caesar
 * secret (owner or admin; answered once, with the URL and an effect config
 * to paste into Caesar), switch it off, and read whether it is on and what
 * arrived (the people who may read the results).
 */
export function caesarSecretRoutes(d: { repos: Repositories; publicBaseUrl: () => string }): Router {
  const r = Router();

  r.get('/collections/:id/results/caesar', requireRole('pi', 'admin'), async (req, res) => {
    const c = await resultsCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const e = await d.repos.caesarReductions.endpoint(c.id);
    const url = caesarEffectConfig(d.publicBaseUrl(), c.id, '').url;
    res.json(e ? { enabled: true, url, username: c.id, createdBy: e.createdBy, createdAt: e.createdAt, stored: e.stored, ignored: e.ignored, lastReceivedAt: e.lastReceivedAt } : { enabled: false, url, username: c.id });
  });

  r.post('/collections/:id/results/caesar-secret', requireRole('pi', 'admin'), async (req, res) => {
    const id = uuid.parse(req.params.id);
    const { secret, rotated } = await createCaesarSecret(d.repos, req.identity!, id);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ secret, rotated, ...caesarEffectConfig(d.publicBaseUrl(), id, secret), note: 'the secret is shown this once; a new call replaces it' });
  });

  r.delete('/collections/:id/results/caesar-secret', requireRole('pi', 'admin'), async (req, res) => {
    await removeCaesarSecret(d.repos, req.identity!, uuid.parse(req.params.id));
    res.status(204).end();
  });

  return r;
}
