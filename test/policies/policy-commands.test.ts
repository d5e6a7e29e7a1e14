import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicyFiles } from '../../src/policies/policy-commands.js';

const ROOT = join(import.meta.dirname, '../..');
const SHIPPED = join(ROOT, 'policies/rubin-default.yaml');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-check-'));
  await mkdir(join(dir, 'policies'));
  await copyFile(SHIPPED, join(dir, 'policies/rubin-default.yaml'));
  await writeFile(join(dir, 'policies/README.md'), '# not a policy\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkPolicyFiles', () => {
  it('checks the repository\'s policies directory by default', async () => {
    const r = await checkPolicyFiles([], { cwd: ROOT });
    expect(r.ok).toBe(true);
    expect(r.messages).toEqual([expect.stringMatching(/^policies\/rubin-default\.yaml: ok, rubin-default@[\d.-]+, 7 rules, evaluation all, sha256 [0-9a-f]{12}$/)]);
    expect(r.policies.map((p) => p.name)).toEqual(['rubin-default']);
  });

  it('reports each problem of a broken file by file and rule, and still checks the others', async () => {
    const text = await readFile(SHIPPED, 'utf8');
    await writeFile(join(dir, 'policies/broken.yaml'), text.replace('name: rubin-default', 'name: broken').replace('[lt, [lookup, dataset.age_hours, 0]', '[gtee, [lookup, dataset.age_hours, 0]'));
    try {
      const r = await checkPolicyFiles([], { cwd: dir });
      expect(r.ok).toBe(false);
      expect(r.messages[0]).toMatch(/^policies\/broken\.yaml: rule "prompt-embargo": condition\[1\]\[2\]: unknown operator "gtee" \(did you mean "gte"\?\) \(line \d+\)$/);
      expect(r.messages[1]).toMatch(/^policies\/rubin-default\.yaml: ok/);
      expect(r.policies).toHaveLength(1);
    } finally {
      await rm(join(dir, 'policies/broken.yaml'));
    }
  });

  it('refuses two different files claiming the same name@version', async () => {
    const text = await readFile(SHIPPED, 'utf8');
    await writeFile(join(dir, 'policies/zz-copy.yaml'), text.replace('every image is checked', 'each image is checked'));
    try {
      const r = await checkPolicyFiles(['policies'], { cwd: dir });
      expect(r.ok).toBe(false);
      expect(r.messages[1]).toMatch(/^policies\/zz-copy\.yaml: rubin-default@.* is also declared by policies\/rubin-default\.yaml with different contents/);
    } finally {
      await rm(join(dir, 'policies/zz-copy.yaml'));
    }
  });

  it('takes explicit files, and names a missing one or an empty directory', async () => {
    expect((await checkPolicyFiles(['policies/rubin-default.yaml'], { cwd: dir })).ok).toBe(true);
    const missing = await checkPolicyFiles(['policies/nope.yaml'], { cwd: dir });
    expect(missing).toMatchObject({ ok: false, messages: ['policies/nope.yaml: cannot read: ENOENT'] });
    await mkdir(join(dir, 'empty'));
    expect(await checkPolicyFiles(['empty'], { cwd: dir })).toMatchObject({ ok: false, messages: ['empty: no policy files (*.yaml, *.yml, *.json)'] });
  });
});
