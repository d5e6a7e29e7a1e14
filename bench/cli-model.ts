/**
 * A model of how the official Zooniverse tools upload subjects, for the
 * upload benchmark (bench/upload.ts) to run against the same Panoptes double
 * as the bridge. Read from panoptes-cli (commands/subject_set.py,
 * upload-subjects) and panoptes-python-client (panoptes.py, subject.py):
 *
 * - Subject.save() in a pool of 5 threads (Subject.async_saves()).
 * - The main loop submits one subject at a time; when more than 50 are
 *   pending it polls for finished saves every 0.5 s (move_created).
 * - Finished subjects are linked to the set once more than 10 wait
 *   (link_subjects(LINK_BATCH_SIZE = 10)), by the main loop, synchronously.
 * - Subject.save() is wrapped in redo.retry(attempts=5, sleeptime=5 s,
 *   sleepscale=1.5, jitter 1 s): any PanoptesAPIException (HTTP >= 500, or a
 *   4xx error body such as 429) sends the same POST again, blindly. A create
 *   that committed before its 504 becomes a duplicate.
 * - Links retry HTTP >= 500 up to 5 times, 5 s apart.
 *
 * Where the model is kinder than the real tools (so the comparison flatters
 * the CLI, not the bridge): connection errors are retried like 5xx (the
 * real client does not retry them and the upload aborts, leaving a YAML
 * state file to resume from); a 401 gets a fresh token before the retry (the
 * real client trusts its own clock and fails the subject); `sleepScale`
 * shortens every sleep to keep the benchmark short. The POST carries
 * external_id (the CLI does not send one) only so duplicates can be counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface CliSubject {
  externalId: string;
  locations: Record<string, string>[];
  metadata: Record<string, unknown>;
}

/** A batch's subjects as the CLI would upload them, read from the batch's JSON manifest (what the manifest step wrote). */
export async function cliSubjectsOf(store: { get(area: 'public', key: string): Promise<{ body: Uint8Array }> }, jsonKey: string): Promise<CliSubject[]> {
  const manifest = JSON.parse(Buffer.from((await store.get('public', jsonKey)).body).toString('utf8')) as { external_id: string; locations: Record<string, string>[]; metadata: Record<string, unknown> }[];
  return manifest.map((m) => ({ externalId: m.external_id, locations: m.locations, metadata: m.metadata }));
}

export interface CliModelOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  projectId: string;
  subjectSetId: string;
  subjects: CliSubject[];
  /** Multiplies every sleep of the model (retry pauses, polling). 1 = the real tools. */
  sleepScale?: number;
  threads?: number;
  random?: () => number;
}

export interface CliModelResult {
  ms: number;
  createRequests: number;
  linkRequests: number;
  /** Saves that gave up after 5 attempts. */
  failed: number;
  created: number;
  /** Time the save threads spent in retry pauses (after sleepScale), summed over threads. */
  retrySleepMs: number;
}

const ACCEPT = 'application/vnd.api+json; version=1';
const ATTEMPTS = 5;
const RETRY_SLEEP_MS = 5_000;
const RETRY_SCALE = 1.5;
const JITTER_MS = 1_000;
const MAX_PENDING = 50;
const LINK_BATCH = 10;
const POLL_MS = 500;

class ApiError extends Error {}

export async function runCliModel(o: CliModelOptions): Promise<CliModelResult> {
  const scale = o.sleepScale ?? 1;
  const random = o.random ?? Math.random;
  const stats = { createRequests: 0, linkRequests: 0, failed: 0, created: 0, retrySleepMs: 0 };
  let token: { value: string; expiresAt: number; margin: number } | undefined;
  let tokenFetch: Promise<void> | undefined;

  const fetchToken = async () => {
    const res = await fetch(`${o.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: o.clientSecret, scope: 'public user project subject' }),
    });
    const j = (await res.json()) as { access_token: string; expires_in: number };
    token = { value: j.access_token, expiresAt: Date.now() + j.expires_in * 1000, margin: Math.min(120_000, j.expires_in * 100) };
  };
  const bearer = async (): Promise<string> => {
    // The python client renews 2 minutes before expiry, by its own clock (a tenth of the lifetime
    // here when that is shorter, so the benchmark's short-lived tokens are not renewed every request).
    if (!token || Date.now() + token.margin > token.expiresAt) {
      tokenFetch ??= fetchToken().finally(() => (tokenFetch = undefined));
      await tokenFetch;
    }
    return token!.value;
  };

  /** One HTTP request; any non-2xx or lost connection is an ApiError (PanoptesAPIException). */
  const call = async (method: string, path: string, body: unknown): Promise<unknown> => {
    const t = await bearer();
    let res: Response;
    try {
      res = await fetch(`${o.baseUrl}/api${path}`, {
        method,
        headers: { accept: ACCEPT, authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(`connection: ${(e as Error).message}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status === 401 && token?.value === t) token = undefined;
    if (res.status >= 400) throw new ApiError(`HTTP ${res.status}`);
    return text ? (JSON.parse(text) as unknown) : null;
  };

  const pause = (attempt: number) => {
    const ms = scale * (RETRY_SLEEP_MS * RETRY_SCALE ** (attempt - 1) + (random() * 2 - 1) * JITTER_MS);
    stats.retrySleepMs += ms;
    return sleep(ms);
  };

  /** Subject.save() under redo.retry: the same POST again after any error. */
  const save = async (s: CliSubject): Promise<string | undefined> => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      stats.createRequests++;
      try {
        const r = (await call('POST', '/subjects', { subjects: { locations: s.locations, metadata: s.metadata, external_id: s.externalId, links: { project: o.projectId } } })) as { subjects: { id: string }[] };
        stats.created++;
        return r.subjects[0].id;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (attempt < ATTEMPTS) await pause(attempt);
      }
    }
    stats.failed++;
    return undefined;
  };

  const link = async (ids: string[]) => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      stats.linkRequests++;
      try {
        await call('POST', `/subject_sets/${o.subjectSetId}/links/subjects`, { subjects: ids });
        return;
      } catch (e) {
        if (!(e instanceof ApiError) || attempt === ATTEMPTS) throw e;
        await pause(attempt);
      }
    }
  };

  // The thread pool: 5 workers draining a queue of saves.
  const queue: { s: CliSubject; done: (id: string | undefined) => void }[] = [];
  const idle: (() => void)[] = [];
  let closed = false;
  const worker = async () => {
    for (;;) {
      const job = queue.shift();
      if (!job) {
        if (closed) return;
        await new Promise<void>((r) => idle.push(r));
        continue;
      }
      job.done(await save(job.s));
    }
  };
  const kick = () => idle.shift()?.();
  const threads = o.threads ?? 5;
  const workers: Promise<void>[] = [];

  const t0 = performance.now();
  for (let i = 0; i < threads; i++) workers.push(worker());

  type Pending = { result?: string | null };
  let pending: Pending[] = [];
  let waitingToLink: string[] = [];
  const moveCreated = async (limit: number) => {
    while (pending.length > limit) {
      const finished = pending.filter((p) => p.result !== undefined);
      pending = pending.filter((p) => p.result === undefined);
      for (const p of finished) if (p.result) waitingToLink.push(p.result);
      if (pending.length > limit) await sleep(scale * POLL_MS);
    }
  };
  const linkSubjects = async (limit: number) => {
    if (waitingToLink.length > limit) {
      await link(waitingToLink);
      waitingToLink = [];
    }
  };

  for (const s of o.subjects) {
    const p: Pending = {};
    queue.push({ s, done: (id) => (p.result = id ?? null) });
    kick();
    pending.push(p);
    await moveCreated(MAX_PENDING);
    await linkSubjects(LINK_BATCH);
  }
  closed = true;
  while (idle.length) kick();
  await moveCreated(0);
  await linkSubjects(0);
  await Promise.all(workers);
  return { ms: performance.now() - t0, ...stats };
}
