import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBridge } from '../support/cli.js';

/* `bridge results check FILE`: what a PI runs before sending a results rules file. */
const bridge = (args: string[]) => runBridge(args, { ...process.env, BRIDGE_MODE: 'dev' } as Record<string, string>);

describe('bridge results check', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'results-check-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints each rule with its task and effects for a valid file (exit 0)', async () => {
    const r = await bridge(['results', 'check', 'policies/results/example.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok: galaxy-mergers-results@1 \(sha256 [0-9a-f]{12}\), 2 rules/);
    expect(r.stdout).toMatch(/rule retire-on-consensus: .*\n {4}task: T0\n {4}when: .*\n {4}then: retire the subject \(reason consensus; cannot be undone through the Panoptes API\)/);
    expect(r.stdout).toMatch(/then: add the subject to subject set 9876\n {4}then: notify the PI.*\n {4}then: flag the subject "ambiguous"/);
  }, 60_000);

  it('prints every problem with its line and exits 1; a missing file is 1, no file is usage (2)', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'name: x\nversion: "1"\nrules:\n  - id: a\n    task: T0\n    condition: [gte, [lookup, votes], [const, 1]]\n    effects:\n      - retire_subject: { reason: done }\n');
    const r = await bridge(['results', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}: line 8: rule "a": effects[0].retire_subject.reason: reason must be one of`);
    const missing = await bridge(['results', 'check', join(dir, 'none.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/none\.yaml: cannot read: ENOENT/);
    expect((await bridge(['results', 'check'])).code).toBe(2);
  }, 60_000);
});
