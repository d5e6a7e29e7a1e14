import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquetjs from '@dsnp/parquetjs';
import { createRepositories } from '../../src/db/repositories/index.js';
import { writeResultsCsv } from '../../src/domain/results-download.js';
import { runBridge, type CliRun } from '../support/cli.js';
import type { SeededResults } from '../support/results-seed.js';
import { resultsDataDir } from './harness.js';

/** `bridge results` as an operator runs it: a process of its own on the service's database, writing the file atomically. */
describe('bridge results (command line)', () => {
  let dir: string;
  let name: string;
  let expectedCsv: string;
  let seeded: SeededResults;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'results-cli-'));
    const made = await resultsDataDir(dir, 6, async (db, c) => {
      const chunks: Uint8Array[] = [];
      await writeResultsCsv(createRepositories(db), c, (b) => void chunks.push(b));
      return Buffer.concat(chunks).toString('utf8');
    });
    ({ name, seeded } = made);
    expectedCsv = made.extra;
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function bridge(args: string[]): Promise<CliRun> {
    const env = { ...process.env, BRIDGE_MODE: 'dev', DATA_DIR: dir, LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    return runBridge(['results', ...args], env);
  }

  it('writes the CSV (the same bytes as the API download) and the Parquet file, leaving no temporary file', async () => {
    const csv = await bridge(['--collection', name, '--format', 'csv', '--out', join(dir, 'r.csv')]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toContain(`wrote ${join(dir, 'r.csv')}: 6 result rows of ${name} (csv)`);
    expect(await readFile(join(dir, 'r.csv'), 'utf8')).toBe(expectedCsv);

    const pq = await bridge(['--collection', name, '--out', join(dir, 'r.parquet')]);
    expect(pq.code, pq.stderr).toBe(0);
    const reader = await parquetjs.ParquetReader.openFile(join(dir, 'r.parquet'));
    const cursor = reader.getCursor();
    const subjects: string[] = [];
    for (let r = (await cursor.next()) as Record<string, unknown> | null; r; r = (await cursor.next()) as Record<string, unknown> | null) subjects.push(r.subject_id as string);
    await reader.close();
    expect(subjects).toEqual(seeded.reductions.map((s) => s.subjectId).sort());
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('exits non-zero with a clear message for an unknown collection or a bad format, and writes nothing', async () => {
    const unknown = await bridge(['--collection', 'u/alien/nothing-here', '--format', 'csv', '--out', join(dir, 'none.csv')]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no collection u\/alien\/nothing-here/);
    const bad = await bridge(['--collection', name, '--format', 'xlsx', '--out', join(dir, 'none.xlsx')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be csv or parquet/);
    const files = await readdir(dir);
    expect(files.filter((f) => f.startsWith('none') || f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});
