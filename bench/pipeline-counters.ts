/**
 * What the pipeline asks of its database and object store, counted from the
 * outside for bench:pipeline: statements by kind (the capacity model needs
 * Postgres writes per stamp) and object-store requests by method (S3
 * requests per stamp). The database drivers are counted at their query
 * entry points (PGlite's `query`, pg's `Client#query`), so every statement
 * any part of the service sends is seen, transaction control included; the
 * store is counted by wrapping its methods in place, so every holder of the
 * store object is counted too.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { ObjectStore } from '../dist/src/domain/ports/object-store.js';

export interface StatementCounts {
  /** insert, update, delete (a `with ... insert` counts as a write too). */
  writes: number;
  reads: number;
  /** begin / commit / rollback / savepoint. */
  control: number;
  /** Time spent inside the driver's query call, by kind (PGlite: mostly this thread's CPU). */
  ms: { writes: number; reads: number; control: number };
  /** The costliest statement shapes (literals and parameters elided), for the profile. */
  top: { shape: string; count: number; ms: number }[];
}

type Kind = 'writes' | 'reads' | 'control';

function kindOf(sql: string): Kind {
  const s = sql.trimStart().slice(0, 400).toLowerCase();
  if (/^(begin|commit|rollback|savepoint|release|start transaction)\b/.test(s)) return 'control';
  if (/^(insert|update|delete|copy)\b/.test(s)) return 'writes';
  if (/^with\b/.test(s) && /\b(insert|update|delete)\b/.test(s)) return 'writes';
  return 'reads';
}

function shapeOf(sql: string): string {
  return sql
    .replace(/\$\d+/g, '?')
    .replace(/\(\?(, \?)*\)(, \(\?(, \?)*\))*/g, '(...)')
    .replace(/'[^']*'/g, "'?'")
    .replace(/\s+/g, ' ')
    .slice(0, 140);
}

/** Counts every statement sent by PGlite or pg in this process from now until `stop()`. */
export function countStatements(): { snapshot(): StatementCounts; reset(): void; stop(): void } {
  const counts = { writes: 0, reads: 0, control: 0 };
  const ms = { writes: 0, reads: 0, control: 0 };
  const shapes = new Map<string, { count: number; ms: number }>();
  const note = (sql: string, t0: number) => {
    const k = kindOf(sql);
    const dt = performance.now() - t0;
    counts[k]++;
    ms[k] += dt;
    const sh = shapeOf(sql);
    const e = shapes.get(sh) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += dt;
    shapes.set(sh, e);
  };
  const liteProto = PGlite.prototype as unknown as { query: (...a: unknown[]) => Promise<unknown> };
  const liteQuery = liteProto.query;
  liteProto.query = async function (this: unknown, ...a: unknown[]) {
    const t0 = performance.now();
    try {
      return await liteQuery.apply(this, a);
    } finally {
      note(String(a[0]), t0);
    }
  };
  const pgProto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const pgQuery = pgProto.query;
  pgProto.query = function (this: unknown, ...a: unknown[]) {
    const t0 = performance.now();
    const text = typeof a[0] === 'string' ? a[0] : ((a[0] as { text?: string })?.text ?? '');
    const r = pgQuery.apply(this, a);
    if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(() => note(text, t0), () => note(text, t0));
    return r;
  };
  return {
    snapshot: () => ({
      ...counts,
      ms: { ...ms },
      top: [...shapes.entries()]
        .map(([shape, v]) => ({ shape, ...v }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 8),
    }),
    reset() {
      counts.writes = counts.reads = counts.control = 0;
      ms.writes = ms.reads = ms.control = 0;
      shapes.clear();
    },
    stop() {
      liteProto.query = liteQuery;
      pgProto.query = pgQuery;
    },
  };
}

export type StoreCounts = Record<'put' | 'get' | 'head' | 'delete' | 'copy', number>;

/** Wraps the store's request methods in place and counts each call. */
export function countStoreRequests(store: ObjectStore): { snapshot(): StoreCounts; reset(): void } {
  const counts: StoreCounts = { put: 0, get: 0, head: 0, delete: 0, copy: 0 };
  const target = store as unknown as Record<keyof StoreCounts, (...a: unknown[]) => Promise<unknown>>;
  for (const m of Object.keys(counts) as (keyof StoreCounts)[]) {
    const orig = target[m].bind(store);
    target[m] = (...a: unknown[]) => {
      counts[m]++;
      return orig(...a);
    };
  }
  return {
    snapshot: () => ({ ...counts }),
    reset() {
      for (const m of Object.keys(counts) as (keyof StoreCounts)[]) counts[m] = 0;
    },
  };
}

export function perStamp(n: number, stamps: number): string {
  const x = n / stamps;
  return x === 0 || x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);
}
