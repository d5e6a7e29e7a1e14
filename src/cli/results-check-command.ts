import { Command } from 'commander';
import { EXIT } from './exit-codes.js';

/**
 * `bridge results check FILE`: validates a results rules file (format in
 * policies/README.md) the way the API does before storing it, and prints
 * each rule with its task and effects, or every problem with its line.
 * Exit codes as `bridge policy check`: 0 valid, 1 not.
 */
export function resultsCheckCommand(): Command {
  return new Command('check')
    .description('Validate a results rules file and show what each rule does')
    .argument('<file>', 'the results rules file (YAML)')
    // Misuse is exit code 2, as for every command (main.ts maps commander's errors).
    .exitOverride()
    .action(async (file: string) => {
      const { parseResultsRules, describeEffect, ResultsRulesError } = await import('../domain/results-rules.js');
      const { readFile } = await import('node:fs/promises');
      let source: string;
      try {
        source = await readFile(file, 'utf8');
      } catch (e) {
        process.stderr.write(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exitCode = EXIT.failed;
        return;
      }
      try {
        const r = parseResultsRules(source, file);
        const out = [`${file}: ok: ${r.name}@${r.version} (sha256 ${r.digest.slice(0, 12)}), ${r.rules.length} rule${r.rules.length === 1 ? '' : 's'}`];
        out.push(`  workflow: ${r.workflow ?? 'every workflow of the project'}`);
        const swap = r.reduce.swap ? `; SWAP on ${r.reduce.swap.task} ("${r.reduce.swap.yes}" / "${r.reduce.swap.no}")` : '';
        const dbscan = r.reduce.dbscan ? `; DBSCAN eps ${r.reduce.dbscan.eps ?? 5} px, minSamples ${r.reduce.dbscan.minSamples ?? 3}` : '';
        out.push(`  reduce: repeats ${r.reduce.repeats}${dbscan}${swap}`);
        for (const rule of r.rules) {
          out.push(`  rule ${rule.id}${rule.description ? `: ${rule.description}` : ''}`);
          out.push(`    task: ${rule.task ?? '(none: reads classifications, swap and retired only)'}`);
          out.push(`    when: ${JSON.stringify(rule.condition)}`);
          for (const e of rule.effects) out.push(`    then: ${describeEffect(e)}`);
        }
        if (r.rules.some((x) => x.effects.some((e) => e.kind === 'retire_subject'))) out.push('  note: retirement cannot be undone through the Panoptes API; dry-run the rules before enabling them');
        process.stdout.write(out.join('\n') + '\n');
        process.exitCode = EXIT.ok;
      } catch (e) {
        if (!(e instanceof ResultsRulesError)) throw e;
        process.stderr.write(e.message + '\n');
        process.exitCode = EXIT.failed;
      }
    });
}
