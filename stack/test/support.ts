// Helpers for the launcher tests: run the CLI in a child process against an isolated home and
// ports, so that stopping and restarting never touches the shared stack.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/paths.js';
import { freeTestPort } from '../src/test-ports.js';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `node --import tsx stack/src/cli.ts <args>` with exactly the given environment. */
/** Fails with the CLI's own output, which names the failing component and its log. */
export function expectSuccess(result: CliResult): void {
  if (result.exitCode === 0) return;
  // The isolated home is deleted after the test: keep the named log's tail in the failure.
  const logFile = /see (\S+\.log)/.exec(result.stderr)?.[1];
  let logTail = '';
  if (logFile) {
    try {
      logTail = `\n--- tail of ${logFile}\n${readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n')}`;
    } catch {
      logTail = `\n(${logFile} is unreadable)`;
    }
  }
  throw new Error(`CLI exited ${result.exitCode}:\n${result.stderr}\n${result.stdout}${logTail}`);
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 180_000,
): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'stack/src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const exitCode = await new Promise<number>((resolveExit) =>
      child.once('close', (code) => resolveExit(code ?? -1)),
    );
    return { exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A free port below the ephemeral range, not in `taken` (stack/src/test-ports.ts). */
export { freeTestPort as freePort };

export interface IsolatedStack {
  home: string;
  env: NodeJS.ProcessEnv;
  ports: {
    kafka: number;
    controller: number;
    registry: number;
    management: number;
    postgres: number;
  };
  remove: () => Promise<void>;
}

/**
 * A fresh LEDGERLINE_HOME under the temp dir (reachable by the postgres OS user) with free
 * ports; the download cache stays shared. Overrides for a component (e.g. KAFKA_BROKERS) keep
 * it from being started.
 */
export async function isolatedStack(overrides: NodeJS.ProcessEnv = {}): Promise<IsolatedStack> {
  const home = await mkdtemp(join(tmpdir(), 'ledgerline-stack-test-'));
  // mkdtemp makes it 0700; the postgres OS user must pass through it to its data directory.
  await chmod(home, 0o755);
  const taken = new Set<number>();
  const ports = {
    kafka: await freeTestPort(taken),
    controller: await freeTestPort(taken),
    registry: await freeTestPort(taken),
    management: await freeTestPort(taken),
    postgres: await freeTestPort(taken),
  };
  const env: NodeJS.ProcessEnv = {
    ...withoutStackVariables(process.env),
    LEDGERLINE_HOME: home,
    LEDGERLINE_KAFKA_PORT: String(ports.kafka),
    LEDGERLINE_KAFKA_CONTROLLER_PORT: String(ports.controller),
    LEDGERLINE_REGISTRY_PORT: String(ports.registry),
    LEDGERLINE_REGISTRY_MANAGEMENT_PORT: String(ports.management),
    LEDGERLINE_POSTGRES_PORT: String(ports.postgres),
    ...overrides,
  };
  return { home, env, ports, remove: () => rm(home, { recursive: true, force: true }) };
}

/** The caller's environment without anything that would redirect the stack elsewhere. */
export function withoutStackVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) {
    // The cache stays shared; the run chain lets an interrupted test run stop what it started.
    const kept = name === 'LEDGERLINE_CACHE' || name === 'LEDGERLINE_RUN_CHAIN';
    if (name.startsWith('LEDGERLINE_') && !kept) delete copy[name];
  }
  delete copy.KAFKA_BROKERS;
  delete copy.SCHEMA_REGISTRY_URL;
  delete copy.DATABASE_URL;
  return copy;
}

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
