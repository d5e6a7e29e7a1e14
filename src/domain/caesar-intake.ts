import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Caller } from './caller.js';
import { changeableCollection } from './collections.js';
import { ValidationError } from './errors.js';
import type { Clock } from './ports/clock.js';
import type { Repositories } from './ports/repositories.js';

/**
 * The optional Caesar path of the results loop (issue 14). A project that
 * already runs Caesar points an `external_with_basic_auth` effect at
 * POST /api/v1/caesar/collections/{id}/reductions; Caesar then POSTs one
 * reduction of one subject per call:
 *
 *   { id, reducible: { id, type: "Workflow" }, data, subject: { id, metadata },
 *     reducer_key, created_at, updated_at }
 *
 * What Caesar does with our answer (zooniverse/caesar
 * app/models/effects/external_with_basic_auth.rb): 200, 201 and 204 are
 * success; anything else, 202 included, raises and the effect is retried.
 * So a delivery about a subject that is not this collection's (and never
 * will be) is answered 200 with `ignored: true` and counted, not refused:
 * a 4xx or a 202 would have Caesar retry it forever. Only a delivery we
 * cannot read at all (no subject or workflow id) is a 400.
 *
 * No event is written per delivery: Caesar posts once per subject per
 * reduction, and the results page reads the stored rows directly.
 */

/** Tolerant: fields the bridge does not use may be missing, unknown fields are ignored. */
const id = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]).transform(String);
export const caesarPostSchema = z
  .object({
    id: id.optional().nullable(),
    reducible: z.object({ id, type: z.string().optional().nullable() }).passthrough(),
    data: z.unknown().optional(),
    subject: z.object({ id, metadata: z.record(z.string(), z.unknown()).optional().nullable() }).passthrough(),
    reducer_key: z.string().max(200).optional().nullable(),
    created_at: z.string().optional().nullable(),
    updated_at: z.string().optional().nullable(),
  })
  .passthrough();
export type CaesarPost = z.infer<typeof caesarPostSchema>;

export interface IntakeOutcome {
  /** stored: kept (newer than what was kept); stale: ours but not newer; ignored: not this collection's subject. */
  outcome: 'stored' | 'stale' | 'ignored';
  reason?: string;
  imageId?: string;
}

export function hashCaesarSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `password` is the secret whose hash is stored; constant time over the hashes. */
export function caesarSecretMatches(password: string, storedHash: string): boolean {
  const a = Buffer.from(hashCaesarSecret(password), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks HTTP Basic credentials: username = collection id, password = its
 * Caesar secret. Answers false for every failure alike (no such collection,
 * no endpoint, wrong secret), so the answer says nothing about which.
 */
export async function caesarCredentialsValid(repos: Repositories, collectionId: string, username: string, password: string): Promise<boolean> {
  const endpoint = await repos.caesarReductions.endpoint(collectionId);
  // Hash even without an endpoint, so a missing one takes as long as a wrong secret.
  const ok = caesarSecretMatches(password, endpoint?.secretHash ?? '0'.repeat(64));
  return !!endpoint && ok && username === collectionId;
}

/** Caesar's time, normalised so that text order is time order; unparseable or missing: null. */
function isoOrNull(v: string | null | undefined): string | null {
  if (!v) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** Stores one Caesar delivery for the collection (credentials already checked). */
export async function receiveCaesarReduction(repos: Repositories, clock: Clock, collectionId: string, body: unknown): Promise<IntakeOutcome> {
  const parsed = caesarPostSchema.safeParse(body);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const field = first?.path.join('.') || 'body';
    throw new ValidationError(`${field}: ${first?.message ?? 'invalid'} (a Caesar external effect sends { reducible: { id }, subject: { id, metadata }, data, reducer_key, updated_at })`, { field });
  }
  const p = parsed.data;
  const now = clock.now();
  return repos.transaction(async (tx) => {
    // Caesar also reduces per user (reducible type "Project"/user reducers): the bridge keeps subject reductions of workflows only.
    const type = p.reducible.type ?? 'Workflow';
    if (type !== 'Workflow') {
      await tx.caesarReductions.recordDelivery(collectionId, 'ignored', now);
      return { outcome: 'ignored' as const, reason: `reducible type ${JSON.stringify(type)} is not a workflow` };
    }
    const meta = p.subject.metadata ?? {};
    const tagged = meta['#bridge_image_id'];
    const imageId = await tx.caesarReductions.imageOfSubject(collectionId, p.subject.id, typeof tagged === 'string' ? tagged : null);
    if (!imageId) {
      await tx.caesarReductions.recordDelivery(collectionId, 'ignored', now);
      return { outcome: 'ignored' as const, reason: `subject ${p.subject.id} is not one of this collection's subjects (no upload recorded it and its #bridge_image_id is not the collection's image)` };
    }
    // No updated_at (or created_at): Caesar's reduction is as new as its arrival.
    const updatedAt = isoOrNull(p.updated_at) ?? isoOrNull(p.created_at) ?? now.toISOString();
    const written = await tx.caesarReductions.upsertIfNewer({
      workflowId: p.reducible.id,
      subjectId: p.subject.id,
      reducerKey: p.reducer_key ?? '',
      collectionId,
      imageId,
      data: p.data ?? null,
      caesarId: p.id ?? null,
      caesarUpdatedAt: updatedAt,
    });
    await tx.caesarReductions.recordDelivery(collectionId, 'stored', now);
    return { outcome: written ? ('stored' as const) : ('stale' as const), imageId };
  });
}

/** The secret's shape: recognisable in a config file, 256 random bits. */
function newCaesarSecret(): string {
  return `caesar_${randomBytes(32).toString('base64url')}`;
}

/**
 * Creates or rotates the collection's Caesar secret (owner or admin). The
 * secret is answered this once and only its hash is kept; the audit row
 * says who and whether it replaced one, never the secret.
 */
export async function createCaesarSecret(repos: Repositories, who: Caller, collectionId: string): Promise<{ secret: string; rotated: boolean }> {
  const c = await changeableCollection(repos, who, collectionId, 'only the owner or an admin can set up the Caesar endpoint');
  const secret = newCaesarSecret();
  const rotated = await repos.transaction(async (tx) => {
    const { replaced } = await tx.caesarReductions.setEndpoint(c.id, hashCaesarSecret(secret), who.username);
    await tx.audit.append([{ actor: who.username, action: replaced ? 'caesar_secret_rotated' : 'caesar_secret_created', entity: 'collection', entityId: c.id, collectionId: c.id, detail: { rotated: replaced } }]);
    return replaced;
  });
  return { secret, rotated };
}

/**
 * Switches the Caesar endpoint off (owner or admin); kept reductions stay.
 * Idempotent like removing the webhook: switching off what is off is no
 * error, and only an actual removal is audited. Answers whether one was on.
 */
export async function removeCaesarSecret(repos: Repositories, who: Caller, collectionId: string): Promise<boolean> {
  const c = await changeableCollection(repos, who, collectionId, 'only the owner or an admin can switch the Caesar endpoint off');
  return repos.transaction(async (tx) => {
    const removed = await tx.caesarReductions.removeEndpoint(c.id);
    if (removed) await tx.audit.append([{ actor: who.username, action: 'caesar_secret_removed', entity: 'collection', entityId: c.id, collectionId: c.id }]);
    return removed;
  });
}

/** What the owner gives Caesar: the URL and an `external_with_basic_auth` effect config. */
export function caesarEffectConfig(publicBaseUrl: string, collectionId: string, secret: string, reducerKey = '<your reducer key>') {
  const url = new URL(`/api/v1/caesar/collections/${collectionId}/reductions`, publicBaseUrl).toString();
  return { url, username: collectionId, effect: { action: 'external_with_basic_auth', config: { url, reducer_key: reducerKey, username: collectionId, password: secret } } };
}
