import { Command } from 'commander';
import { EXIT, UsageError } from './exit-codes.js';
import type { CliContext } from './context.js';

/**
 * `bridge policy check [FILE...]` validates policy files (default: the
 * policies/ directory). `bridge policy explain IMAGE_ID` replays the verdict
 * an image got, from the facts recorded with it, rule by rule.
 */
export function policyCommand(ctx: CliContext): Command {
  const policy = new Command('policy').description('Check data-rights policies, and explain verdicts');
  policy
    .command('check')
    .description('Validate policy files (default: every .yaml/.json under policies/)')
    .argument('[files...]', 'policy files or directories')
    .action(async (files: string[]) => {
      const { checkPolicyFiles } = await import('../policies/policy-commands.js');
      const r = await checkPolicyFiles(files);
      for (const m of r.messages) (r.ok ? process.stdout : process.stderr).write(m + '\n');
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
    });
  policy
    .command('explain')
    .description("Show which rules matched an image's verdict, and why")
    .argument('<image-id>', 'the image (UUID)')
    .option('--json', 'machine-readable output')
    .action(async (imageId: string, o: { json?: boolean }) => {
      if (!/^[0-9a-f-]{36}$/i.test(imageId)) throw new UsageError(`image id must be a UUID, not ${JSON.stringify(imageId)}`);
      const { loadPolicyFile } = await import('../policies/policy-file.js');
      const { explainEvaluation, formatExplanation } = await import('../policies/evaluate.js');
      const { DEFAULT_POLICY_FILE } = await import('../app/service.js');
      const config = await ctx.config();
      const repos = await ctx.repos();
      const found = await repos.images.find(imageId);
      if (!found) throw new UsageError(`no image ${imageId}`);
      // The fields --json has always shown.
      const img = { id: found.id, state: found.state, verdict: found.verdict, policy_ref: found.policy_ref, policy_digest: found.policy_digest, error: found.error };
      const entry = await repos.audit.latestByPolicy(imageId);
      const facts = (entry?.detail as { facts?: unknown } | undefined)?.facts;
      if (!facts) throw new UsageError(img.error ? `image ${imageId} has no verdict: ${img.error}` : `image ${imageId} has no policy verdict yet`);
      const current = await loadPolicyFile(config.POLICY_FILE ?? DEFAULT_POLICY_FILE);
      const x = explainEvaluation(current, facts as never);
      const sameText = current.source.digest === img.policy_digest;
      if (o.json) {
        process.stdout.write(JSON.stringify({ image: img, decidedAt: entry!.at, samePolicyText: sameText, explanation: x }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`image ${img.id}: ${img.state}, verdict ${img.verdict} by ${img.policy_ref} at ${new Date(entry!.at).toISOString()}\n`);
      if (!sameText) process.stdout.write(`note: the policy file now configured (${current.name}@${current.version}, ${current.source.digest.slice(0, 12)}) is not the text that decided (${(img.policy_digest ?? '').slice(0, 12)}); below is what it would decide now, from the same facts\n`);
      process.stdout.write(formatExplanation(x) + '\n');
    });
  return policy;
}
