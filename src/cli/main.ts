import { Command, CommanderError } from 'commander';
import { convertCommand } from './convert-command.js';
import { inspectCommand } from './inspect-command.js';
import { serveCommand } from './serve-command.js';
import { migrateCommand } from './migrate-command.js';
import { statusCommand } from './status-command.js';
import { demoCommand } from './demo-command.js';
import { policyCommand } from './policy-command.js';
import { exportCommand } from './export-command.js';
import { purgeCommand } from './purge-command.js';
import { retryCommand } from './retry-command.js';
import { resultsCheckCommand } from './results-check-command.js';
import { resultsCommand } from './results-command.js';
import { resultsOpsCommands } from './results-ops-command.js';
import { EXIT, UsageError } from './exit-codes.js';
import { cliContext } from './context.js';
import { SOFTWARE } from '../imaging/version.js';

/** Composition root of the `bridge` CLI: one context (config, database, store) for whichever command runs. */
const context = cliContext();
const program = new Command('bridge')
  .description('RSP-to-Zooniverse bridge')
  .version(SOFTWARE)
  .exitOverride()
  // Options belong to the command they follow; needed so `results status --collection X` gives --collection to status, not results.
  .enablePositionalOptions()
  .addCommand(convertCommand())
  .addCommand(inspectCommand())
  .addCommand(serveCommand(context))
  .addCommand(migrateCommand(context))
  .addCommand(statusCommand(context))
  .addCommand(demoCommand())
  .addCommand(policyCommand(context))
  .addCommand(exportCommand(context))
  .addCommand(purgeCommand(context))
  .addCommand(retryCommand(context))
  // `bridge results`: the results loop. Its own action writes the results table (results-command.ts); `check` validates a
  // results rules file; status, pull, backfill and recompute are the operator's handles (results-ops-command.ts).
  .addCommand(resultsOpsCommands(context).reduce((results, sub) => results.addCommand(sub.exitOverride()), resultsCommand(context).addCommand(resultsCheckCommand())));
for (const c of program.commands) c.exitOverride();

try {
  try {
    await program.parseAsync(process.argv);
  } finally {
    // Inside the outer try: a failure to close is reported like the command's own.
    await context.close();
  }
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version are "errors" to commander; they already printed.
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (e instanceof UsageError) {
    process.stderr.write(`bridge: ${e.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`bridge: ${(e as Error).message}\n`);
    process.exitCode = EXIT.failed;
  }
}
