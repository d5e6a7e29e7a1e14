import { Command, InvalidArgumentError } from 'commander';
import type { Db } from '../db/database.js';
import type { Collection } from '../domain/model.js';
import type { ReleaseProgress } from '../domain/release.js';
import { UsageError } from './exit-codes.js';
import type { Failures } from '../domain/retry.js';
import { describeDataset } from '../domain/dataset-failure.js';
import type { CliContext } from './context.js';

/**
 * `bridge status [--collection ID|NAME] [--watch]`: counts per state and the
 * release progress, straight from the database (the truth), so it shows the
 * same whichever worker is doing the work. `--watch` redraws the progress
 * bars in place on a terminal until nothing is on its way; elsewhere (logs,
 * pipes) it prints a line, or with --json one JSON object, whenever a figure
 * changes. The repositories and the domain's readers are imported when
 * the command runs, not with its definition (`bridge --help` stays cheap).
 */
export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .description('Show collections, their counts per state and their publishing/upload progress')
    .option('--collection <id>', 'one collection (id or name)')
    .option('--json', 'machine-readable output')
    .option('--failed', 'list what failed, with the reasons: datasets, stamps and upload batches (retry with `bridge retry`)')
    .option('--watch', 'follow the release of one collection (--collection) until nothing is on its way')
    .option('--interval <seconds>', 'how often --watch reads the database', secondsArg, 2)
    .action(async (o: { collection?: string; json?: boolean; failed?: boolean; watch?: boolean; interval: number }) => {
      if (o.watch && o.failed) throw new UsageError('--failed and --watch do not go together: --failed lists what stopped, --watch follows progress');
      if (o.watch && !o.collection) throw new UsageError('--watch follows one collection: give --collection ID or NAME');
      const config = await ctx.config();
      const db = await ctx.db();
      const repos = await ctx.repos();
      const uploading = !!(config.ZOONIVERSE_CLIENT_ID && config.ZOONIVERSE_CLIENT_SECRET);
      const rows = (await repos.collections.list()).filter((c) => !o.collection || c.id === o.collection || c.name === o.collection);
      if (o.collection && !rows.length) throw new UsageError(`no collection ${o.collection}`);
      if (o.watch) {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        try {
          await watchRelease({ db, collection: rows[0], uploading, out: process.stdout, tty: !!process.stdout.isTTY && !o.json, json: !!o.json, intervalMs: o.interval * 1000, signal: ac.signal });
        } finally {
          process.off('SIGINT', stop);
        }
        return;
      }
      if (o.failed) {
        const { failuresOf } = await import('../domain/retry.js');
        const listed = [];
        for (const c of rows) listed.push({ id: c.id, collection: c.name, ...(await failuresOf(repos, c)) });
        if (o.json || !process.stdout.isTTY) process.stdout.write(JSON.stringify(listed, null, 2) + '\n');
        else for (const f of listed) for (const line of failureLines(f)) process.stdout.write(line + '\n');
        return;
      }
      const { releaseProgress } = await import('../domain/release.js');
      const out = [];
      for (const c of rows) {
        const release = await releaseProgress(repos, c.id, { uploading: uploading && !!c.zooniverse_project_id });
        out.push({ id: c.id, collection: c.name, owner: c.owner, status: c.status, lastPolledAt: c.last_polled_at, lastPollError: c.last_poll_error, ...(await repos.collections.countByState(c.id)), release });
      }
      if (o.json || !process.stdout.isTTY) {
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      for (const c of out) {
        process.stdout.write(`${c.collection} (${c.status}, owner ${c.owner}) ${c.id}\n`);
        process.stdout.write(`  artifacts: ${fmt(c.artifacts)}\n  images:    ${fmt(c.images)}\n`);
        if (c.lastPollError) process.stdout.write(`  last poll failed: ${c.lastPollError}\n`);
        for (const line of releaseLines(c.release)) process.stdout.write(`  ${line}\n`);
      }
      if (!out.length) process.stdout.write('no collections registered\n');
    });
}

function secondsArg(v: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0.1 || x > 3600) throw new InvalidArgumentError('--interval must be between 0.1 and 3600 seconds');
  return x;
}

export interface WatchOptions {
  db: Db;
  collection: Pick<Collection, 'id' | 'name' | 'zooniverse_project_id'>;
  /** Zooniverse credentials are configured (a manifested batch is waiting to be uploaded, not resting). */
  uploading: boolean;
  out: NodeJS.WritableStream;
  /** Redraw in place (a terminal) instead of printing a line per change. */
  tty: boolean;
  json: boolean;
  intervalMs: number;
  signal?: AbortSignal;
}

/** Follows a collection's release until it settles (or the signal fires); returns the last reading. */
export async function watchRelease(o: WatchOptions): Promise<ReleaseProgress> {
  const { createRepositories } = await import('../db/repositories/index.js');
  const { releaseProgress } = await import('../domain/release.js');
  // Node's own modules too: fs/promises, crypto and their streams cost `bridge --help` ~8 ms when the definitions imported them.
  const { setTimeout: sleep } = await import('node:timers/promises');
  let drawn = 0;
  let previous = '';
  for (;;) {
    const p = await releaseProgress(createRepositories(o.db), o.collection.id, { uploading: o.uploading && !!o.collection.zooniverse_project_id });
    if (o.tty) {
      const lines = [`${o.collection.name}: ${p.settled ? 'settled' : 'in progress'}`, ...releaseLines(p)];
      // Back to the first line of the previous drawing, clear below, draw again.
      o.out.write((drawn ? `\x1b[${drawn}F\x1b[J` : '') + lines.join('\n') + '\n');
      drawn = lines.length;
    } else {
      const line = o.json ? JSON.stringify({ at: new Date().toISOString(), collection: o.collection.name, ...p }) : `${new Date().toISOString()} ${o.collection.name} ${summary(p)}`;
      // The timestamp always differs; only a change in the figures is worth a line.
      const key = JSON.stringify(p);
      if (key !== previous) o.out.write(line + '\n');
      previous = key;
    }
    if (p.settled || o.signal?.aborted) return p;
    try {
      await sleep(o.intervalMs, undefined, { signal: o.signal });
    } catch {
      return p;
    }
  }
}

/** One line per batch, newest first, after the collection's totals. */
export function releaseLines(p: ReleaseProgress): string[] {
  const lines = [`release: ${p.approved} approved waiting to publish, ${p.published} published, ${p.linked}/${p.total} subjects linked (${p.created} created)`];
  for (const u of p.batches) {
    const n = u.total - u.retracted;
    lines.push(`batch ${u.seq} (${u.mode}) ${bar(u.linked, n)} ${u.linked}/${n} linked, ${u.created} created${u.failed ? `, ${u.failed} failed` : ''}: ${u.state}${u.error ? ` (${u.error})` : ''}`);
  }
  return lines;
}

function summary(p: ReleaseProgress): string {
  const batches = p.batches.map((b) => `#${b.seq} ${b.state} ${b.linked}/${b.total - b.retracted}`).join(', ');
  return `approved ${p.approved}, published ${p.published}, linked ${p.linked}/${p.total}${batches ? `; ${batches}` : ''}${p.settled ? '; settled' : ''}`;
}

export function bar(done: number, total: number, width = 24): string {
  const n = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function fmt(counts: Record<string, number>): string {
  const e = Object.entries(counts);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

/** What stopped in one collection, a line per item with its reason, and the command that takes it back up. */
export function failureLines(f: Failures & { collection: string }): string[] {
  const n = f.artifacts.length + f.batches.length + f.stamps.length;
  if (!n) return [`${f.collection}: nothing failed`];
  const lines = [`${f.collection}: ${f.artifacts.length} dataset(s), ${f.stamps.length}${f.more_stamps ? '+' : ''} stamp(s), ${f.batches.length} upload batch(es) stopped`];
  for (const a of f.artifacts) lines.push(`  ${describeDataset(a)}${a.path ? ` file ${a.path}` : ''}: ${a.error ?? 'failed'} (${a.attempts} attempt(s))`);
  for (const s of f.stamps) lines.push(`  stamp ${s.stamp_index} of ${s.group_key} (dataset ${s.dataset_ids.join(', ') || '?'}): ${s.error ?? 'failed'}`);
  for (const b of f.batches) lines.push(`  upload batch ${b.seq} (${b.mode}) ${b.state}${b.error ? `: ${b.error}` : ''}`);
  if (f.artifacts.length) lines.push(`  retry the datasets: bridge retry --collection ${f.collection} --artifacts`);
  if (f.batches.length) lines.push(`  retry the upload batches: bridge retry --collection ${f.collection} --batches`);
  return lines;
}
