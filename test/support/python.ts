import { spawnSync } from 'node:child_process';

/**
 * The first Python that has the given modules: Debian's python3-astropy and
 * python3-pyavm install into /usr/bin/python3, which may not be the python3
 * first on PATH (pyenv, venvs). Undefined when none has them.
 */
export function pythonWith(modules: string[]): string | undefined {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return undefined;
}
