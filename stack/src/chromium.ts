// The system's Chromium for the console's browser tests and the report screenshot: puppeteer-core
// downloads no browser, so it is Debian's `chromium` (or CHROMIUM_PATH). `npm test` installs it
// on first run where it can (root with apt-get, as it creates the postgres OS user); elsewhere
// it says which command installs it, and the browser tests fail with that line: they never skip.
import { existsSync } from 'node:fs';
import { installHint } from './prerequisites.js';
import { findOnPath, runCommand, type CommandOptions, type CommandResult } from './process.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const INSTALL_MS_MAX = 15 * 60_000;
const UPDATE_MS_MAX = 5 * 60_000;

export function findChromium(
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  return [env['CHROMIUM_PATH'], ...CANDIDATES].find(
    (candidate): candidate is string =>
      candidate !== undefined && candidate !== '' && exists(candidate),
  );
}

export function chromiumMissing(): string {
  return `No Chromium found (or set CHROMIUM_PATH): ${installHint('chromium')}.`;
}

export interface EnsureChromiumOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly exists?: (path: string) => boolean;
  readonly isRoot?: boolean;
  /** Where an executable is on PATH; findOnPath by default. */
  readonly which?: (name: string) => string | undefined;
  readonly run?: (
    command: string,
    args: string[],
    options: CommandOptions,
  ) => Promise<CommandResult>;
}

export type ChromiumOutcome =
  | { readonly found: string; readonly installed: boolean }
  | { readonly found: undefined; readonly why: string };

/**
 * Finds Chromium, or installs Debian's package when this process may (root, apt-get on PATH,
 * LEDGERLINE_INSTALL_PREREQUISITES not 0). A stale package index is refreshed once and the
 * install tried again. Never throws: what is missing is in `why`.
 */
export async function ensureChromium(options: EnsureChromiumOptions): Promise<ChromiumOutcome> {
  const env = options.env ?? process.env;
  const exists = options.exists ?? existsSync;
  const present = findChromium(env, exists);
  if (present !== undefined) return { found: present, installed: false };
  const aptGet = (options.which ?? ((name) => findOnPath(name, env)))('apt-get');
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  if (env['LEDGERLINE_INSTALL_PREREQUISITES'] === '0' || !isRoot || aptGet === undefined) {
    return { found: undefined, why: chromiumMissing() };
  }
  const run = options.run ?? runCommand;
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for another apt run's lock instead of failing at once.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = (): Promise<CommandResult> =>
    run(aptGet, [...lockWait, 'install', '-y', '--no-install-recommends', 'chromium'], {
      env: aptEnv,
      timeoutMs: INSTALL_MS_MAX,
      description: 'apt-get install chromium',
    });
  options.log("Chromium not found: installing Debian's chromium (apt-get install chromium), once");
  try {
    let result = await install();
    if (result.exitCode !== 0) {
      options.log('apt-get install chromium failed; refreshing the package index (apt-get update)');
      await run(aptGet, [...lockWait, 'update'], {
        env: aptEnv,
        timeoutMs: UPDATE_MS_MAX,
        description: 'apt-get update',
      });
      result = await install();
    }
    const installed = findChromium(env, exists);
    if (result.exitCode === 0 && installed !== undefined)
      return { found: installed, installed: true };
    return {
      found: undefined,
      why: `apt-get install chromium failed (exit ${result.exitCode}: ${lastLine(result.output)}); ${chromiumMissing()}`,
    };
  } catch (error) {
    return {
      found: undefined,
      why: `apt-get install chromium failed (${(error as Error).message}); ${chromiumMissing()}`,
    };
  }
}

function lastLine(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines[lines.length - 1] ?? 'no output';
}
