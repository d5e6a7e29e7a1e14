import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBridge, type CliRun } from '../support/cli.js';

/**
 * The commands load their work lazily (issue 16: `bridge --help` had loaded
 * the whole service stack). What a user sees must not change with that:
 * every command's and subcommand's help, --version, and commander's and our
 * own usage errors with their exit codes, compared with what the eagerly
 * loading CLI printed (captured into help-before-lazy.json before the change;
 * `serve`'s help since gained --queues, on purpose).
 */
interface Fixture {
  help: Record<string, CliRun>;
  other: Record<string, CliRun>;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'help-before-lazy.json'), 'utf8')) as Fixture;

// A bare environment, as the fixture was captured: no deployment settings, a DATA_DIR that does not exist.
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: '/nonexistent-bridge-data' };

/** Runs every case, a few at a time (each child compiles the sources with tsx). */
async function runAll(cases: string[][]): Promise<CliRun[]> {
  const out: CliRun[] = new Array<CliRun>(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      while (next < cases.length) {
        const i = next++;
        out[i] = await runBridge(cases[i], env);
      }
    }),
  );
  return out;
}

describe('bridge help and usage errors are what they were before lazy loading', () => {
  it('prints the same help for every command and subcommand', { timeout: 240_000 }, async () => {
    const paths = Object.keys(fixture.help);
    // The fixture was written by walking the command tree; a command added later must be added to it too.
    expect(paths).toEqual(expect.arrayContaining(['', 'convert', 'serve', 'policy check', 'results recompute']));
    const runs = await runAll(paths.map((p) => [...(p ? p.split(' ') : []), '--help']));
    paths.forEach((p, i) => expect({ command: p, ...runs[i] }).toEqual({ command: p, ...fixture.help[p] }));
  });

  it('prints the same version, bare-command help and usage errors, with the same exit codes', { timeout: 240_000 }, async () => {
    const cases = Object.keys(fixture.other);
    const runs = await runAll(cases.map((c) => JSON.parse(c) as string[]));
    cases.forEach((c, i) => expect({ args: c, ...runs[i] }).toEqual({ args: c, ...fixture.other[c] }));
  });
});
