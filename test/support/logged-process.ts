import { spawn, type ChildProcess } from 'node:child_process';

/** A child process whose JSON log lines (pino, on stdout) are collected as they come. */
export interface LoggedProcess {
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  exited: Promise<void>;
}

/**
 * Starts `node ...argv` (a bridge process, as users run it) and collects its
 * JSON log lines. A non-zero exit is reported on this process's stderr with
 * the end of the child's, under `label`; a process stopped by a signal (the
 * caller's SIGTERM or SIGKILL) has no exit code and is not reported.
 */
export function spawnLogged(argv: string[], o: { cwd: string; env: NodeJS.ProcessEnv; label: string; cpus?: string }): LoggedProcess {
  // `cpus` (a taskset list, e.g. "1") confines the process and every thread it starts to those cores, as a container's CPU set would.
  const [cmd, args] = o.cpus === undefined ? [process.execPath, argv] : ['taskset', ['-c', o.cpus, process.execPath, ...argv]];
  const proc = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: LoggedProcess = { proc, logs: [], exited: new Promise((r) => proc.once('exit', () => r())) };
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) child.logs.push(JSON.parse(l) as Record<string, unknown>);
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  proc.once('exit', (code) => {
    if (code) process.stderr.write(`${o.label} exited ${code}: ${err}\n`);
  });
  return child;
}
