import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBridge, standaloneEnv } from '../support/cli.js';
import { parseCsv } from '../../src/domain/extra-metadata-table.js';

/**
 * `bridge demo --auto-approve` with no Zooniverse credentials goes on past
 * the upload: the demo Panoptes server takes the 100 approved images,
 * simulated volunteers classify them, and the bridge's workers pull, reduce
 * and apply the demo results rules; the demo prints what happened and writes
 * the results table.
 */
describe('bridge demo results', () => {
  it('uploads to the demo Panoptes server, pulls the volunteers\' classifications, reduces, retires and moves to the expert set, and writes results.csv', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-results-test-'));
    try {
      const env = standaloneEnv({ LOG_LEVEL: 'warn' });
      const out = await runBridge(['demo', '--dir', dir, '--auto-approve'], env);
      expect(out.code, out.stderr + out.stdout).toBe(0);
      expect(out.stdout).toMatch(/the demo Panoptes server at http:\/\/127\.0\.0\.1:\d+ stands in for Zooniverse/);
      expect(out.stdout).toMatch(/uploaded 100 subjects to Zooniverse project 1 at http:\/\/127\.0\.0\.1:\d+/);
      const made = /simulated volunteers made (\d+) classifications of 100 subjects/.exec(out.stdout);
      expect(made, out.stdout).not.toBeNull();
      const pulled = /classifications pulled: (\d+); subjects reduced: (\d+)/.exec(out.stdout);
      expect(pulled, out.stdout).not.toBeNull();
      expect(pulled![1]).toBe(made![1]);
      expect(pulled![2]).toBe('100');
      const acted = /retired at consensus: (\d+); moved to the expert set (\d+): (\d+)/.exec(out.stdout);
      expect(acted, out.stdout).not.toBeNull();
      const retired = Number(acted![1]);
      const moved = Number(acted![3]);
      // The demo's volunteers are of mixed skill: some subjects reach consensus, some stay ambiguous.
      expect(retired).toBeGreaterThan(0);
      expect(moved).toBeGreaterThan(0);

      // Top objects per answer: each answer line names up to three subjects with their agreement.
      expect(out.stdout).toMatch(/top objects per answer to T0/);
      const answers = [...out.stdout.matchAll(/^ {2}(Yes|No|Not sure) \((\d+) subjects\): (.+)$/gm)];
      expect(answers.length).toBeGreaterThan(0);
      expect(answers.reduce((n, m) => n + Number(m[2]), 0)).toBe(100);
      for (const m of answers) {
        const named = m[3].split('; ');
        expect(named.length).toBeLessThanOrEqual(3);
        for (const n of named) expect(n).toMatch(/^(object \S+|tract \d+ · patch \d+ · stamp \d+)\b.* \(\d+%\)$/);
      }

      // The results table: one row per uploaded subject, agreeing with what the demo said.
      const csvPath = join(dir, 'results.csv');
      expect(out.stdout).toContain(`results table (100 rows): ${csvPath}`);
      expect(out.stdout).toMatch(/npx bridge results --collection [0-9a-f-]{36} --format parquet/);
      const rows = parseCsv(await readFile(csvPath, 'utf8'));
      const header = rows[0];
      for (const col of ['object_id', 'image_id', 'subject_id', 'classifications', 'T0.most_likely', 'T0.agreement', 'retired', 'retired_reason', 'flags']) expect(header).toContain(col);
      const body = rows.slice(1).filter((r) => r.length > 1);
      expect(body).toHaveLength(100);
      const at = (name: string) => header.indexOf(name);
      expect(new Set(body.map((r) => r[at('subject_id')])).size).toBe(100);
      expect(body.filter((r) => r[at('retired')] === 'true' && r[at('retired_reason')] === 'consensus')).toHaveLength(retired);
      expect(body.filter((r) => r[at('flags')].split(';').includes('ambiguous'))).toHaveLength(moved);
      // The rules' thresholds hold for what they acted on.
      for (const r of body.filter((x) => x[at('retired')] === 'true')) expect(Number(r[at('T0.agreement')])).toBeGreaterThanOrEqual(0.8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
