import { createHmac } from 'node:crypto';
import { Router } from 'express';
import type { ObjectStore } from '../domain/ports/object-store.js';
import { ForbiddenError, NotFoundError } from '../domain/errors.js';
import { sameSecret } from './same-secret.js';

/**
 * Short-lived signed URLs for quarantined images. The API hands one out only
 * to a user allowed to see the image (its owner, reviewers, admins); the URL
 * then works for a few minutes without a session, like an S3 presigned URL,
 * so <img> tags need no credentials. Nothing else in quarantine is reachable.
 */
export interface MediaSigner {
  sign(key: string, now?: number): string;
  /** When URLs signed at `now` stop working (the same for every key signed then). */
  expiresAt(now?: number): Date;
}

const PREFIX = '/media/q/';
const KEY = /^images\/[0-9a-f-]{36}\/[0-9a-f]{64}\.(png|jpg)$/;

function mac(secret: Buffer, key: string, exp: number): string {
  return createHmac('sha256', secret).update(`${key}\n${exp}`).digest('base64url');
}

/** MEDIA_URL_TTL_SECONDS unless configured: how long a signed media URL works. */
export const DEFAULT_MEDIA_URL_TTL_SECONDS = 600;

export function mediaSigner(secret: Buffer, ttlSeconds: number): MediaSigner {
  // Rounded up to the minute so a page of thumbnails shares cacheable URLs;
  // a lifetime of a few minutes or less (tests) is kept to the second.
  const step = ttlSeconds >= 300 ? 60 : 1;
  const expiry = (now: number) => Math.ceil((now / 1000 + ttlSeconds) / step) * step;
  return {
    sign(key, now = Date.now()) {
      const exp = expiry(now);
      return `${PREFIX}${key}?exp=${exp}&sig=${mac(secret, key, exp)}`;
    },
    expiresAt: (now = Date.now()) => new Date(expiry(now) * 1000),
  };
}

export function mediaRoutes(store: ObjectStore, secret: Buffer): Router {
  const r = Router();
  r.get(/^\/media\/q\/(.+)$/, async (req, res) => {
    const key = (req.params as Record<string, string>)[0];
    const exp = Number(req.query.exp);
    const sig = typeof req.query.sig === 'string' ? req.query.sig : '';
    if (!KEY.test(key) || !Number.isInteger(exp)) throw new NotFoundError('no such media');
    const want = mac(secret, key, exp);
    if (!sameSecret(sig, want)) throw new ForbiddenError('this media link is not valid');
    const left = exp - Math.floor(Date.now() / 1000);
    if (left <= 0) throw new ForbiddenError('this media link has expired; reload the page');
    const obj = await store.get('quarantine', key);
    res.setHeader('Cache-Control', `private, max-age=${left}`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.type(obj.contentType).send(Buffer.from(obj.body.buffer, obj.body.byteOffset, obj.body.byteLength));
  });
  return r;
}
