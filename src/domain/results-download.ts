import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { Collection } from './model.js';
import type { Repositories } from './ports/repositories.js';
import type { ResultsFilter } from './ports/results-read-repository.js';
import { csvField } from './csv.js';
import { allResults, columnTasks, type ColumnTask, type ResultItem, type ResultRow } from './results-table.js';

export { columnTasks, type ColumnTask };

/**
 * The PI's results as one flat table, CSV or Parquet, streamed a page at a
 * time (never the whole set in memory). The column set is decided once per
 * collection from its tasks: the workflow's answer order first, then any
 * label seen in a reduction, so every row has the same columns and an
 * answer nobody chose still gets its column (with 0 votes). A task a
 * subject has no reduction for is empty (null), not zero.
 *
 *   object_id, collection, dataset_ids, stamp_index, ra, dec, image_id,
 *   subject_id, workflow_id, classifications,
 *   question:  <task>.most_likely .agreement .num_votes .total_votes .evenness .votes.<answer>...
 *   survey:    <task>.classifications .choices.<choice>...
 *   drawing:   <task>.classifications .clusters (count) .clusters_json (centre, spread, count, sky)
 *   swap_probability, swap_status, retired, retired_reason, flags, caesar_json
 */

export type ColumnType = 'string' | 'double' | 'int32' | 'int64' | 'boolean';
export type CellValue = string | number | boolean | null;

export interface ResultColumn {
  name: string;
  type: ColumnType;
  value(r: ResultRow): CellValue;
}


const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The flat columns for these tasks, in order. */
export function resultColumns(tasks: ColumnTask[]): ResultColumn[] {
  const cols: ResultColumn[] = [
    { name: 'object_id', type: 'string', value: (r) => r.objectId },
    { name: 'collection', type: 'string', value: (r) => r.collection },
    { name: 'dataset_ids', type: 'string', value: (r) => r.datasetIds.join(',') },
    { name: 'stamp_index', type: 'int32', value: (r) => r.stampIndex },
    { name: 'ra', type: 'double', value: (r) => r.ra },
    { name: 'dec', type: 'double', value: (r) => r.dec },
    { name: 'image_id', type: 'string', value: (r) => r.imageId },
    { name: 'subject_id', type: 'string', value: (r) => r.subjectId },
    { name: 'workflow_id', type: 'string', value: (r) => r.workflowId },
    { name: 'classifications', type: 'int64', value: (r) => r.classifications },
  ];
  for (const t of tasks) {
    const of = (r: ResultRow) => (r.tasks[t.task]?.kind === t.kind ? r.tasks[t.task] : undefined);
    const p = t.task;
    if (t.kind === 'question') {
      const cons = (r: ResultRow) => rec(of(r)?.consensus);
      cols.push(
        { name: `${p}.most_likely`, type: 'string', value: (r) => (of(r) ? ((cons(r).most_likely as string | null | undefined) ?? null) : null) },
        { name: `${p}.agreement`, type: 'double', value: (r) => num(cons(r).agreement) },
        { name: `${p}.num_votes`, type: 'int32', value: (r) => num(cons(r).num_votes) },
        { name: `${p}.total_votes`, type: 'int32', value: (r) => num(cons(r).total_votes) },
        { name: `${p}.evenness`, type: 'double', value: (r) => num(of(r)?.evenness) },
      );
      for (const label of t.labels) cols.push({ name: `${p}.votes.${label}`, type: 'int32', value: (r) => (of(r) ? (num(rec(of(r)!.counts)[label]) ?? 0) : null) });
    } else if (t.kind === 'survey') {
      cols.push({ name: `${p}.classifications`, type: 'int32', value: (r) => num(of(r)?.classifications) });
      for (const choice of t.labels) {
        cols.push({
          name: `${p}.choices.${choice}`,
          type: 'int32',
          value: (r) => {
            const s = of(r);
            if (!s) return null;
            const c = (Array.isArray(s.choices) ? s.choices : []).map(rec).find((x) => x.choice === choice);
            return c ? (num(c.choice_count) ?? 0) : 0;
          },
        });
      }
    } else if (t.kind === 'drawing') {
      const clusters = (r: ResultRow) => {
        const d = of(r);
        if (!d) return null;
        const out: Record<string, unknown>[] = [];
        for (const tool of (Array.isArray(d.tools) ? d.tools : []).map(rec)) {
          for (const c of (Array.isArray(tool.clusters) ? tool.clusters : []).map(rec)) out.push({ tool: tool.tool, frame: tool.frame, ...c });
        }
        return out;
      };
      cols.push(
        { name: `${p}.classifications`, type: 'int32', value: (r) => num(of(r)?.classifications) },
        { name: `${p}.clusters`, type: 'int32', value: (r) => clusters(r)?.length ?? null },
        { name: `${p}.clusters_json`, type: 'string', value: (r) => { const c = clusters(r); return c ? JSON.stringify(c) : null; } },
      );
    }
  }
  cols.push(
    { name: 'swap_probability', type: 'double', value: (r) => r.swap?.probability ?? null },
    { name: 'swap_status', type: 'string', value: (r) => r.swap?.status ?? null },
    { name: 'retired', type: 'boolean', value: (r) => r.retired },
    { name: 'retired_reason', type: 'string', value: (r) => r.retiredReason },
    { name: 'flags', type: 'string', value: (r) => r.flags.join(';') },
    // Caesar's reductions by reducer key, as Caesar sent them (JSON; empty when the project sends none).
    { name: 'caesar_json', type: 'string', value: (r) => (Object.keys(r.caesar).length ? JSON.stringify(r.caesar) : null) },
  );
  return cols;
}

/** Where a download's bytes go; a returned promise is waited for (back-pressure). */
export type ByteSink = (chunk: Uint8Array) => void | Promise<void>;

export interface DownloadProgress {
  total: number;
  onRows?: (written: number, total: number) => void;
}

/** How many rows a download of the collection will have (for progress). */
export async function resultsCount(repos: Repositories, c: Collection, f: ResultsFilter = {}): Promise<number> {
  return repos.resultsRead.count(c.id, f);
}

function csvCell(v: CellValue): string {
  if (v === null) return '';
  return csvField(typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : v);
}

/** The CSV, header first, one line per result, sent to `sink` a page at a time. Returns the rows written. */
export async function writeResultsCsv(repos: Repositories, c: Collection, sink: ByteSink, o: { filter?: ResultsFilter; onRows?: (n: number) => void } = {}): Promise<number> {
  const cols = resultColumns(await columnTasks(repos, c.id));
  const enc = new TextEncoder();
  await sink(enc.encode(cols.map((k) => csvField(k.name)).join(',') + '\n'));
  let n = 0;
  for await (const page of allResults(repos, c, o.filter)) {
    await sink(enc.encode(page.map((it: ResultItem) => cols.map((k) => csvCell(k.value(it.row))).join(',') + '\n').join('')));
    n += page.length;
    o.onRows?.(n);
  }
  return n;
}

/** hyparquet-writer's ByteWriter, emptied into the sink after each row group and at the end. */
class SinkWriter extends ByteWriter {
  constructor(private readonly sink: ByteSink) {
    super(1 << 16);
  }
  flush(): void | Promise<void> {
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    return this.sink(chunk);
  }
  override finish(): void | Promise<void> {
    return this.flush();
  }
}

const PARQUET_TYPES: Record<ColumnType, { type: 'BYTE_ARRAY' | 'DOUBLE' | 'INT32' | 'INT64' | 'BOOLEAN'; converted_type?: 'UTF8' }> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  double: { type: 'DOUBLE' },
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  boolean: { type: 'BOOLEAN' },
};

/** Rows per Parquet row group: pages are gathered up to this before a group is written. */
const ROW_GROUP = 10_000;

/** The Parquet file (typed, nullable columns), written a row group at a time to `sink`. Returns the rows written. */
export async function writeResultsParquet(repos: Repositories, c: Collection, sink: ByteSink, o: { filter?: ResultsFilter; onRows?: (n: number) => void } = {}): Promise<number> {
  const cols = resultColumns(await columnTasks(repos, c.id));
  const schema = [
    { name: 'root', num_children: cols.length },
    ...cols.map((k) => ({ name: k.name, ...PARQUET_TYPES[k.type], repetition_type: 'OPTIONAL' as const })),
  ];
  const writer = new ParquetWriter({ writer: new SinkWriter(sink), schema, createdBy: 'rsp-zooniverse-bridge results', kvMetadata: [{ key: 'bridge.collection', value: c.name }] });
  let buffered: ResultRow[] = [];
  let n = 0;
  const writeGroup = async () => {
    if (!buffered.length) return;
    const columnData = cols.map((k) => ({
      name: k.name,
      data: buffered.map((r) => {
        const v = k.value(r);
        return v !== null && k.type === 'int64' ? BigInt(v as number) : v;
      }),
    }));
    await writer.write({ columnData, rowGroupSize: buffered.length });
    n += buffered.length;
    buffered = [];
  };
  for await (const page of allResults(repos, c, o.filter)) {
    for (const it of page) buffered.push(it.row);
    if (buffered.length >= ROW_GROUP) await writeGroup();
    // Rows encoded so far (a row group is written when it is full, and at the end).
    o.onRows?.(n + buffered.length);
  }
  await writeGroup();
  await writer.finish();
  return n;
}

/** A file name for a download: the collection's name made safe, and the format. */
export function resultsFileName(c: Collection, ext: 'csv' | 'parquet'): string {
  return `${c.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '')}-results.${ext}`;
}
