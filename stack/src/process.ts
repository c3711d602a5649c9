// Process helpers for the launcher: detached spawn with pid files, bounded waits, process
// trees read from /proc, and a lock so that two launchers never start the same home at once.
import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './errors.js';
import { withRunChain } from './run-scope.js';

export interface DetachedSpec {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  pidFile: string;
  uid?: number;
  gid?: number;
}

/**
 * Starts a process in its own session and process group, stdout/stderr appended to its log
 * file, and records its pid. The launcher may exit right after: the child is not tied to it.
 */
export async function spawnDetached(spec: DetachedSpec): Promise<number> {
  await mkdir(dirname(spec.logFile), { recursive: true });
  await mkdir(dirname(spec.pidFile), { recursive: true });
  const logFd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      // The run chain lets Ctrl-C of the command that started it find and stop this process.
      env: withRunChain(spec.env),
      detached: true,
      stdio: ['ignore', logFd, logFd],
      uid: spec.uid,
      gid: spec.gid,
    });
    const pid = await new Promise<number>((resolvePid, reject) => {
      child.once('error', (error) =>
        reject(new StackError(`could not start ${spec.command}: ${error.message}`)),
      );
      child.once('spawn', () => resolvePid(child.pid ?? -1));
    });
    if (!(pid > 0)) throw new StackError(`could not start ${spec.command}: no pid`);
    child.unref();
    await writeFile(spec.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(logFd);
  }
}

export interface CommandResult {
  exitCode: number;
  output: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  description: string;
  uid?: number;
  gid?: number;
  /** Each complete line of output as it arrives (progress reports). */
  onOutputLine?: (line: string) => void;
}

/** Runs a command to completion within a bound; its output is returned, never inherited. */
export async function runCommand(
  command: string,
  args: string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env === undefined ? undefined : withRunChain(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own group, so a timeout kills the whole tree (mvn forks java)
    uid: options.uid,
    gid: options.gid,
  });
  const chunks: Buffer[] = [];
  const outputBytesMax = 1 << 20;
  let outputBytes = 0;
  let partialLine = '';
  const collect = (chunk: Buffer): void => {
    if (options.onOutputLine) {
      const lines = (partialLine + chunk.toString('utf8')).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) options.onOutputLine(line);
    }
    if (outputBytes >= outputBytesMax) return;
    chunks.push(chunk);
    outputBytes += chunk.length;
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
  }, options.timeoutMs);
  try {
    const exitCode = await new Promise<number>((resolveExit, reject) => {
      child.once('error', (error) =>
        reject(new StackError(`${options.description} could not run ${command}: ${error.message}`)),
      );
      child.once('close', (code, signal) => resolveExit(code ?? (signal ? 128 : 1)));
    });
    if (timedOut) {
      throw new StackError(
        `${options.description} did not finish within ${seconds(options.timeoutMs)}`,
      );
    }
    return { exitCode, output: Buffer.concat(chunks).toString('utf8') };
  } finally {
    clearTimeout(timer);
  }
}

/** The last line of a log's tail that matches pattern, shortened for a one-line error. */
export function lastLogLine(logFile: string, pattern: RegExp): string | undefined {
  const tailBytesMax = 256 * 1024;
  let text: string;
  try {
    const fd = openSync(logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, tailBytesMax);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((line) => pattern.test(line));
  const last = lines[lines.length - 1]?.trim();
  if (!last) return undefined;
  const lengthMax = 240;
  return last.length > lengthMax ? `${last.slice(0, lengthMax)}...` : last;
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Built when the bound is reached; names what did not happen and where to look. */
  timeoutError: () => Error;
  /** Checked before each probe; an error returned here ends the wait at once. */
  failFast?: () => Error | undefined;
}

/** Polls probe until it yields a value, at most timeoutMs (every wait in the launcher is bounded). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  while (true) {
    const failure = options.failFast?.();
    if (failure) throw failure;
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw options.timeoutError();
    await sleep(options.intervalMs);
  }
}

export async function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolveOpen(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Absolute path of an executable found on PATH (as given in env), or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---- pid files and /proc ---------------------------------------------------------------

async function readPidFile(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

function procStat(pid: number): { state: string; ppid: number; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: the fields after it start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

function processCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg) => arg.length > 0);
  } catch {
    return undefined;
  }
}

function processComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The pid recorded in pidFile, if that process is alive and is really ours (pid reuse). */
export async function ownedPid(pidFile: string, marker: string): Promise<number | undefined> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmdline = processCmdline(pid) ?? [];
  return cmdline.some((arg) => arg.includes(marker)) ? pid : undefined;
}

/** Every live process below pid, plus the members of its process group. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  const tree = new Set<number>([pid]);
  for (const candidate of allPids()) {
    const stat = procStat(candidate);
    if (!stat) continue;
    parentOf.set(candidate, stat.ppid);
    if (stat.pgid === pid) tree.add(candidate);
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, parent] of parentOf) {
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  return [...tree].filter(isAlive);
}

export interface StackProcess {
  pid: number;
  comm: 'java' | 'postgres';
}

/** Java and postgres processes whose command line points into one of the given directories. */
export function stackProcesses(...markers: string[]): StackProcess[] {
  const found: StackProcess[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid || !isAlive(pid)) continue;
    const comm = processComm(pid);
    if (comm !== 'java' && comm !== 'postgres') continue;
    const cmdline = processCmdline(pid) ?? [];
    if (cmdline.some((arg) => markers.some((marker) => arg.includes(marker)))) {
      found.push({ pid, comm });
    }
  }
  return found;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    signalPid(pid, signal);
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export interface StopSpec {
  pid: number;
  description: string;
  /** First signal, sent to the process group (postgres: SIGINT = fast shutdown). */
  signal: NodeJS.Signals;
  graceMs: number;
}

/**
 * Stops a detached process and everything below it: the polite signal to its group, a bounded
 * wait, then SIGKILL to every remaining member and a second bounded wait.
 */
export async function stopProcessTree(spec: StopSpec): Promise<void> {
  const tree = processTree(spec.pid);
  signalGroup(spec.pid, spec.signal);
  const killGraceMs = 5_000;
  const allGone = async (): Promise<true | undefined> =>
    tree.every((pid) => !isAlive(pid)) ? true : undefined;
  try {
    await waitFor(allGone, {
      timeoutMs: spec.graceMs,
      intervalMs: 100,
      timeoutError: () => new StackError('grace period over'),
    });
    return;
  } catch {
    // fall through to SIGKILL
  }
  for (const pid of tree.filter(isAlive)) {
    signalGroup(pid, 'SIGKILL');
    signalPid(pid, 'SIGKILL');
  }
  await waitFor(allGone, {
    timeoutMs: killGraceMs,
    intervalMs: 100,
    timeoutError: () =>
      new StackError(
        `${spec.description} (pid ${spec.pid}) survived SIGTERM for ${seconds(spec.graceMs)} ` +
          `and SIGKILL for ${seconds(killGraceMs)}`,
      ),
  });
}

// ---- lock ------------------------------------------------------------------------------

/**
 * Runs fn while holding an exclusive lock file (pid inside), so concurrent start/stop of one
 * home (e.g. two Jest workers) serialise. A lock whose owner is dead is taken over.
 */
export async function withFileLock<T>(
  lockFile: string,
  waitMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  await waitFor(async () => (tryLock(lockFile) ? true : undefined), {
    timeoutMs: waitMs,
    intervalMs: 250,
    timeoutError: () =>
      new StackError(
        `another launcher held ${lockFile} for more than ${seconds(waitMs)}; ` +
          'if none is running, delete that file',
      ),
  });
  try {
    return await fn();
  } finally {
    await removeFile(lockFile);
  }
}

function tryLock(lockFile: string): boolean {
  try {
    writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const owner = readLockOwner(lockFile);
  // Unreadable or half-written: the owner is between create and write; retry on the next poll.
  if (owner === undefined || isAlive(owner)) return false;
  // The owner died holding the lock: remove it (if still the same stale one) and retry.
  if (readLockOwner(lockFile) === owner) rmSync(lockFile, { force: true });
  return false;
}

function readLockOwner(lockFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to launch a component on a port another process holds, naming the variable that
 * moves it: a second server would fail later with a less helpful message, or worse, a client
 * would talk to the wrong one.
 */
export async function assertPortsFree(
  component: string,
  host: string,
  ports: readonly (readonly [port: number, variable: string])[],
): Promise<void> {
  for (const [port, variable] of ports) {
    if (await isPortOpen(host, port)) {
      throw new StackError(
        `port ${port} is already in use by another process: ${component} cannot listen there ` +
          `(stop it, or set ${variable})`,
      );
    }
  }
}

export interface ReadySpec {
  /** As messages start with it: 'Kafka', 'PostgreSQL', 'the registry'. */
  component: string;
  pid: number;
  logFile: string;
  /** Log lines worth quoting when the process dies during start-up. */
  errorPattern: RegExp;
  answers: () => Promise<boolean>;
  timeoutMs: number;
  intervalMs: number;
  /** Set when this start launched the process: a failed start stops what it launched. */
  stopLaunched?: () => Promise<unknown>;
}

/** Waits until a component answers; fails at once, quoting its log, when its process exits. */
export async function awaitReady(spec: ReadySpec): Promise<void> {
  const { component, pid, logFile } = spec;
  const capitalised = component.charAt(0).toUpperCase() + component.slice(1);
  try {
    await waitFor(async () => ((await spec.answers()) ? true : undefined), {
      timeoutMs: spec.timeoutMs,
      intervalMs: spec.intervalMs,
      failFast: () => {
        if (isAlive(pid)) return undefined;
        const line = lastLogLine(logFile, spec.errorPattern);
        return new StackError(
          `${capitalised} exited during startup${line ? ` (${line})` : ''}; see ${logFile}`,
        );
      },
      timeoutError: () =>
        new StackError(
          `${capitalised} did not become ready within ${seconds(spec.timeoutMs)}; see ${logFile}`,
        ),
    });
  } catch (error) {
    await spec.stopLaunched?.().catch(() => undefined);
    throw error;
  }
}

/** Stops a component's process tree if it runs; removes its pid file either way. */
export async function stopComponent(spec: {
  pid: number | undefined;
  pidFile: string;
  description: string;
  signal: NodeJS.Signals;
  graceMs: number;
}): Promise<boolean> {
  if (spec.pid !== undefined) {
    await stopProcessTree({
      pid: spec.pid,
      description: spec.description,
      signal: spec.signal,
      graceMs: spec.graceMs,
    });
  }
  await removeFile(spec.pidFile);
  return spec.pid !== undefined;
}
