import { resolve, sep } from 'node:path';
import type { Collection, CollectionStatus, Image, SourceKind } from './model.js';
import { assertProjectApproved } from './project-bindings.js';
import { derivedRelease, type ReleaseCatalogue } from './releases.js';
import type { Repositories } from './ports/repositories.js';
import { isAdmin, overseesAll, type Caller } from './caller.js';
import { ForbiddenError, NotFoundError, ValidationError } from './errors.js';
import { newWebhookSecret } from './notify.js';
import { webhookUrlProblem, type WebhookUrlRules } from './webhook-url.js';
import { defaultChannelOrder, parseRgbMapping } from '../imaging/colour/bands.js';
import { checkCollectionName } from './collection-name.js';

/**
 * Collections as PIs, reviewers and admins meet them: who may see or change
 * one, registering a new one, and its lifecycle (pause, resume, retire).
 * Settings and their audit trail are in collection-settings.ts.
 */

/** The part of the job queue a collection's lifecycle drives: its scheduled polls, and one poll right away. */
export interface PollScheduler {
  schedulePoll(collectionId: string, everySeconds: number): Promise<unknown>;
  unschedulePoll(collectionId: string): Promise<unknown>;
  add(name: 'poll', payload: { collectionId: string }): Promise<unknown>;
}

/** Owners see their collections; reviewers and admins see all. */
export function canSee(who: Caller, c: Pick<Collection, 'owner'>): boolean {
  return c.owner === who.username || overseesAll(who);
}

/** Owners and admins change a collection; reviewers only look. */
export function mayChange(who: Caller, c: Pick<Collection, 'owner'>): boolean {
  return c.owner === who.username || isAdmin(who);
}

const NOT_YOURS = 'only the owner or an admin can change a collection';

/** Throws ForbiddenError (with `message`) unless the caller may change the collection. */
export function assertMayChange(who: Caller, c: Pick<Collection, 'owner'>, message = NOT_YOURS): void {
  if (!mayChange(who, c)) throw new ForbiddenError(message);
}

/** The collection, if the caller may see it. Throws NotFoundError or ForbiddenError. */
export async function visibleCollection(repos: Repositories, who: Caller, id: string): Promise<Collection> {
  const c = await repos.collections.get(id);
  if (!canSee(who, c)) throw new ForbiddenError('not your collection');
  return c;
}

/** The collection, if the caller may change it; `message` says what they were refused. */
export async function changeableCollection(repos: Repositories, who: Caller, id: string, message = NOT_YOURS): Promise<Collection> {
  const c = await visibleCollection(repos, who, id);
  assertMayChange(who, c, message);
  return c;
}

/** One page of the collections the caller sees (only their own when `mine`), each with its image counts per state. */
export async function listCollections(
  repos: Repositories,
  who: Caller,
  opts: { mine: boolean; after?: string; limit?: number },
): Promise<{ items: { collection: Collection; images: Record<string, number> }[]; next: string | null }> {
  const all = !opts.mine && overseesAll(who);
  const page = await repos.collections.page({ ...(all ? {} : { owner: who.username }), after: opts.after, limit: opts.limit ?? 100 });
  const counts = await repos.collections.imageCountsOf(page.items.map((c) => c.id));
  return { items: page.items.map((c) => ({ collection: c, images: counts.get(c.id) ?? {} })), next: page.next };
}

export interface Registration {
  repository: string;
  /** The Butler run collection, u/<username>/... */
  collection: string;
  sourceKind: SourceKind;
  /** For 'prefix' sources: relative to the artifact root. */
  sourceRoot?: string;
  datasetType: string;
  bands: string[];
  /** e.g. "i,r,g"; default: reddest band first. */
  rgb?: string;
  colour: Record<string, unknown>;
  zooniverseProjectId?: string;
  subjectSetNaming?: string;
  pollIntervalSeconds?: number;
}

export interface RegistrationDeps {
  repos: Repositories;
  polls: PollScheduler;
  /** Directory under which 'prefix' sources must live (retrieve-artifacts output). */
  artifactRoot: string;
  defaultPollIntervalSeconds: number;
  /** The operator's repository -> release mapping: the release is derived from it, never taken from the PI. */
  releases: ReleaseCatalogue;
}

/**
 * Registers a collection and starts polling it. Ownership is ours to
 * enforce (the Butler server has no per-collection check): a PI registers
 * under u/<own name>/ or under a prefix an admin delegated to them, which
 * makes them its owner. Admins too: the registrant is always the owner, so
 * the rule that nobody decides on their own collection also keeps anyone
 * from deciding on data they registered for someone else.
 */
export async function registerCollection(d: RegistrationDeps, who: Caller, r: Registration): Promise<Collection> {
  const { name, owner, sourceRoot, rgb } = await checkRegistration(d, who, r);
  // Uploads run as EPO's Zooniverse account: only a project an admin approved for the owner.
  if (r.zooniverseProjectId) await assertProjectApproved(d.repos, owner, r.zooniverseProjectId);
  const c = await d.repos.collections.create(
    {
      owner,
      repository: r.repository,
      name,
      sourceKind: r.sourceKind,
      sourceRoot,
      datasetType: r.datasetType,
      rgb,
      colour: r.colour,
      zooniverseProjectId: r.zooniverseProjectId ?? null,
      subjectSetNaming: r.subjectSetNaming ?? null,
      pollIntervalSeconds: r.pollIntervalSeconds ?? d.defaultPollIntervalSeconds,
      // The system's word, from the repository label: an unmapped label is `unknown` (proprietary, embargoed).
      release: derivedRelease(d.releases, r.repository),
      // Only the owner's own claim counts: an admin registering for someone does not lend their rights.
      ownerDataRights: owner === who.username ? (who.dataRights ?? []) : [],
    },
    who.username,
  );
  await d.polls.schedulePoll(c.id, c.poll_interval_seconds);
  await d.polls.add('poll', { collectionId: c.id });
  return c;
}

/**
 * The rules a registration must pass before anything is stored or read:
 * a canonical name the caller may register (u/<own name>/ or a delegated
 * prefix), a prefix source inside the artifact root, a valid band mapping.
 * A registration and its preview (collection-preview.ts) both pass here.
 */
export async function checkRegistration(
  d: { repos: Repositories; artifactRoot: string },
  who: Caller,
  r: Pick<Registration, 'collection' | 'sourceKind' | 'sourceRoot' | 'bands' | 'rgb'>,
): Promise<{ name: string; owner: string; sourceRoot: string | null; rgb: string[] }> {
  // Checked before ownership: the ownership rule reads the name's segments.
  const name = checkCollectionName(r.collection);
  const owner = await ownerOf(d.repos, who, name);
  let sourceRoot: string | null = null;
  if (r.sourceKind === 'prefix') {
    const root = resolve(d.artifactRoot);
    sourceRoot = resolve(root, r.sourceRoot ?? '.');
    if (sourceRoot !== root && !sourceRoot.startsWith(root + sep)) throw new ValidationError('sourceRoot must be inside the configured artifact root', { field: 'sourceRoot' });
  }
  let rgb: string[];
  try {
    rgb = r.rgb ? parseRgbMapping(r.rgb, r.bands) : defaultChannelOrder(r.bands);
  } catch (e) {
    throw new ValidationError((e as Error).message, { field: r.rgb ? 'rgb' : 'bands' });
  }
  return { name, owner, sourceRoot, rgb };
}

async function ownerOf(repos: Repositories, who: Caller, collection: string): Promise<string> {
  const pathOwner = collection.split('/')[1];
  if (pathOwner === who.username) return pathOwner;
  const delegated = await repos.delegations.prefixesOf(who.username);
  // A delegated prefix makes the registering PI the owner (and responsible) for it.
  if (delegated.some((prefix) => collection.startsWith(prefix))) return who.username;
  throw new ForbiddenError(`you may only register collections under u/${who.username}/, or under a prefix an admin delegated to you`, { field: 'collection' });
}

/**
 * Pauses, resumes or retires a collection (logged as a transition), and
 * keeps its scheduled polls in step: only an active collection is polled.
 */
export async function changeStatus(d: { repos: Repositories; polls: PollScheduler }, who: Caller, id: string, to: CollectionStatus): Promise<Collection> {
  const c = await changeableCollection(d.repos, who, id);
  if (c.status !== to) await d.repos.collections.setStatus(c.id, c.status, to, who.username);
  if (to === 'active') await d.polls.schedulePoll(c.id, c.poll_interval_seconds);
  else await d.polls.unschedulePoll(c.id);
  return d.repos.collections.get(c.id);
}

/**
 * Points the collection's events at `url` under a new secret, which the
 * caller sees this once; it signs every delivery (X-Bridge-Signature:
 * sha256=HMAC(secret, body)).
 */
export async function setWebhook(repos: Repositories, who: Caller, c: Collection, url: string, rules: WebhookUrlRules = { allowHttp: false, allowedHosts: [] }): Promise<{ url: string; secret: string }> {
  assertMayChange(who, c, 'only the owner or an admin can set the webhook');
  const problem = webhookUrlProblem(url, rules);
  if (problem) throw new ValidationError(`url: ${problem}`, { field: 'url' });
  const secret = newWebhookSecret();
  await repos.collections.update(c.id, { webhook_url: url, webhook_secret: secret });
  return { url, secret };
}

export async function removeWebhook(repos: Repositories, who: Caller, c: Collection): Promise<void> {
  assertMayChange(who, c, 'only the owner or an admin can remove the webhook');
  await repos.collections.update(c.id, { webhook_url: null, webhook_secret: null });
}

/** An image, if the caller may see its collection. Throws NotFoundError or ForbiddenError. */
export async function visibleImage(repos: Repositories, who: Caller, imageId: string): Promise<Image> {
  const img = await repos.images.find(imageId);
  if (!img) throw new NotFoundError(`image ${imageId} not found`);
  await visibleCollection(repos, who, img.collection_id);
  return img;
}
