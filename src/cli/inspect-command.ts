import { Command } from 'commander';

/** The definition of `bridge inspect`; the FITS reading (inspect-run.ts) is imported when it runs. */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description('Show the HDUs, stamps, positions, WCS and compression of a FITS file')
    .argument('<file>', 'FITS file')
    .option('--json', 'print JSON (default when stdout is not a terminal)')
    .action(async (path: string, o: { json?: boolean }) => {
      const { runInspect } = await import('./inspect-run.js');
      await runInspect(path, o);
    });
}
