// Runs one of the repository's TypeScript entry points (through tsx) to its end, as a user runs
// it from the command line, and keeps what it said: for tests of a command's exit code and words.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '@ledgerline/platform/config';

export interface ScriptRun {
  /** The exit code; null when a signal (the timeout among them) ended it. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runScript(
  script: string,
  args: readonly string[] = [],
  options: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
): Promise<ScriptRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, script), ...args],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: options.timeoutMs ?? 60_000,
        env: { ...process.env, ...options.env },
      },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}
