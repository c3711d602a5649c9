// What one command (`npm start`, `npm test`) started, so that Ctrl-C or SIGTERM at any instant
// stops exactly that and nothing else. Every process the launcher spawns carries the chain of
// run ids of the commands above it in its environment (LEDGERLINE_RUN_CHAIN); the kernel keeps
// a process's initial environment in /proc/<pid>/environ, and children inherit it, so the
// processes of a run are found even after they were detached, re-parented, or forked further
// (PostgreSQL backends, Maven's JVM), and a run nested in another (a test that runs `npm start`)
// is stopped with its parent but never stops its parent.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const RUN_CHAIN_VARIABLE = 'LEDGERLINE_RUN_CHAIN';
const CHAIN_SEPARATOR = ':';

/** Gives this process a run id of its own, appended to the chain it inherited. */
export function beginRun(env: NodeJS.ProcessEnv = process.env): string {
  const runId = randomUUID();
  const inherited = env[RUN_CHAIN_VARIABLE];
  env[RUN_CHAIN_VARIABLE] =
    inherited && inherited.length > 0 ? `${inherited}${CHAIN_SEPARATOR}${runId}` : runId;
  return runId;
}

/** The environment for a child: what it was given, plus the chain of the current run. */
export function withRunChain(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const chain = process.env[RUN_CHAIN_VARIABLE];
  return chain === undefined ? env : { ...env, [RUN_CHAIN_VARIABLE]: chain };
}

export interface RunProcess {
  pid: number;
  comm: string;
  cmdline: string[];
}

/** Processes (other than this one) whose initial environment names runId in their chain. */
export function processesOfRun(runId: string): RunProcess[] {
  const found: RunProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const chain = environVariable(pid, RUN_CHAIN_VARIABLE);
    if (chain === undefined || !chain.split(CHAIN_SEPARATOR).includes(runId)) continue;
    if (!isRunning(pid)) continue;
    found.push({ pid, comm: readText(`/proc/${pid}/comm`).trim(), cmdline: cmdlineOf(pid) });
  }
  return found;
}

export interface RunStopOptions {
  /** Processes to leave running (e.g. a stack the user asked to keep). */
  keep?: (process: RunProcess) => boolean;
  graceMs: number;
  log: (message: string) => void;
}

/**
 * Stops every process of the run: PostgreSQL with SIGINT (fast shutdown), everything else with
 * SIGTERM (Kafka shuts down cleanly), then SIGKILL for what is left after the grace period.
 * Returns the pids it found.
 */
export async function stopProcessesOfRun(
  runId: string,
  options: RunStopOptions,
): Promise<number[]> {
  const targets = processesOfRun(runId).filter((p) => !(options.keep?.(p) ?? false));
  if (targets.length === 0) return [];
  options.log(
    `stopping ${targets.length} process(es) this command started: ` +
      targets.map((p) => `${p.comm} ${p.pid}`).join(', '),
  );
  for (const target of targets)
    signal(target.pid, target.comm === 'postgres' ? 'SIGINT' : 'SIGTERM');
  const deadline = Date.now() + options.graceMs;
  const pollMs = 100;
  while (Date.now() < deadline && targets.some((t) => isRunning(t.pid))) await sleep(pollMs);
  const stubborn = targets.filter((t) => isRunning(t.pid));
  for (const target of stubborn) signal(target.pid, 'SIGKILL');
  if (stubborn.length > 0) {
    options.log(`killed ${stubborn.map((p) => p.pid).join(', ')} after ${options.graceMs} ms`);
  }
  // SIGKILL is not refused; the bound only covers the kernel reaping them.
  const reapDeadline = Date.now() + 5_000;
  while (Date.now() < reapDeadline && stubborn.some((t) => isRunning(t.pid))) await sleep(pollMs);
  return targets.map((t) => t.pid);
}

export interface InterruptCleanup {
  /** Removes the handlers (the command's own shutdown takes over). */
  release(): void;
}

export interface InterruptOptions {
  runId: string;
  /** e.g. "npm start": named in the lines printed while stopping. */
  command: string;
  keep?: (process: RunProcess) => boolean;
  log: (message: string) => void;
  /** Work to do before the sweep (stop in-process services); bounded by the caller. */
  beforeSweep?: () => Promise<void>;
  graceMs?: number;
}

/**
 * On SIGINT or SIGTERM: run beforeSweep, stop every process the run started, exit with
 * 128 + the signal number. A second signal while stopping is ignored: stopping is bounded.
 */
export function stopRunOnInterrupt(options: InterruptOptions): InterruptCleanup {
  let stopping = false;
  const onSignal = (name: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    options.log(`${options.command}: ${name} received, stopping what it started ...`);
    const exitCode = 128 + (name === 'SIGINT' ? 2 : 15);
    void (async () => {
      try {
        await options.beforeSweep?.();
      } catch (error) {
        options.log(`${options.command}: ${(error as Error).message}`);
      }
      await stopProcessesOfRun(options.runId, {
        keep: options.keep,
        graceMs: options.graceMs ?? 30_000,
        log: options.log,
      }).catch((error: unknown) => options.log(`${options.command}: ${String(error)}`));
      options.log(`${options.command}: stopped`);
      process.exit(exitCode);
    })();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const name of signals) process.on(name, onSignal);
  return {
    release() {
      for (const name of signals) process.removeListener(name, onSignal);
    },
  };
}

function environVariable(pid: number, name: string): string | undefined {
  const prefix = `${name}=`;
  for (const entry of readText(`/proc/${pid}/environ`).split('\0')) {
    if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  }
  return undefined;
}

function cmdlineOf(pid: number): string[] {
  return readText(`/proc/${pid}/cmdline`)
    .split('\0')
    .filter((arg) => arg.length > 0);
}

function isRunning(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === '') return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // gone, or not ours to read
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
