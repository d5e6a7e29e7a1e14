import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { explainEvaluation, formatExplanation } from './evaluate.js';
import type { PolicyFacts } from './facts.js';
import { loadPolicyFile, PolicyFileError, policyRef, type Policy } from './policy-file.js';

/**
 * What the `bridge policy ...` commands do, without commander or the
 * database, so they can be tested and reused at start-up.
 */

export const DEFAULT_POLICY_DIR = 'policies';
const POLICY_FILE = /\.(ya?ml|json)$/i;

export interface PolicyCheckResult {
  ok: boolean;
  /** One line per file checked (`ok` with a summary) and per problem found. */
  messages: string[];
  /** The policies that loaded. */
  policies: Policy[];
}

/**
 * Validates policy files. Directories are expanded to their *.yaml, *.yml
 * and *.json files; no paths means the `policies` directory under cwd. Two
 * files claiming the same name@version with different contents are an
 * error, since verdicts record name@version.
 */
export async function checkPolicyFiles(paths: string[] = [], opts: { cwd?: string } = {}): Promise<PolicyCheckResult> {
  const cwd = opts.cwd ?? process.cwd();
  const messages: string[] = [];
  const files: string[] = [];
  for (const p of paths.length ? paths : [DEFAULT_POLICY_DIR]) {
    const abs = resolve(cwd, p);
    let isDir = false;
    try {
      isDir = (await stat(abs)).isDirectory();
    } catch {
      // Reported by the loader as "cannot read".
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    const found = (await readdir(abs)).filter((f) => POLICY_FILE.test(f)).sort();
    if (found.length === 0) messages.push(`${p}: no policy files (*.yaml, *.yml, *.json)`);
    files.push(...found.map((f) => join(p, f)));
  }
  let ok = messages.length === 0;
  const policies: Policy[] = [];
  const byRef = new Map<string, Policy>();
  for (const f of files) {
    try {
      const policy = await loadPolicyFile(resolve(cwd, f), f);
      const ref = policyRef(policy);
      const twin = byRef.get(ref);
      if (twin && twin.source.digest !== policy.source.digest) {
        ok = false;
        messages.push(`${f}: ${ref} is also declared by ${twin.source.file} with different contents; give one of them a new version`);
        continue;
      }
      byRef.set(ref, policy);
      policies.push(policy);
      messages.push(`${f}: ok, ${ref}, ${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'}, evaluation ${policy.evaluation}, sha256 ${policy.source.digest.slice(0, 12)}`);
    } catch (e) {
      ok = false;
      if (e instanceof PolicyFileError) messages.push(...e.message.split('\n'));
      else messages.push(`${f}: ${(e as Error).message}`);
    }
  }
  return { ok, messages, policies };
}

/** The text of `bridge policy explain`, given the facts the caller assembled for an image. */
export function explainPolicy(policy: Policy, facts: PolicyFacts): string {
  return formatExplanation(explainEvaluation(policy, facts));
}
