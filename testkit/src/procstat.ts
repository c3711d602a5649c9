// CPU seconds per process from /proc/<pid>/stat (utime + stime, plus cutime + cstime of reaped
// children), and the time its threads waited for a core from /proc/<pid>/task/<tid>/schedstat:
// Kafka, the Schema Registry and PostgreSQL (the postmaster and every backend it forked) found
// through the pid files of the local stack (.ledgerline/<component>/*.pid) or, failing that, by
// scanning /proc cmdlines; and this Node process. Linux only; elsewhere the figures are null.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** USER_HZ: the unit of the /proc stat times; 100 on every mainstream Linux. */
const CLOCK_TICKS_PER_S = 100;

export type ProcessRole = 'node' | 'kafka' | 'registry' | 'postgres';

interface StatLine {
  pid: number;
  ppid: number;
  cpuS: number;
  childrenCpuS: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(fields[i] ?? 0);
  // After ')' the fields start at "state" (field 3); utime is field 14 → index 11.
  return {
    pid,
    ppid: n(1),
    cpuS: (n(11) + n(12)) / CLOCK_TICKS_PER_S,
    childrenCpuS: (n(13) + n(14)) / CLOCK_TICKS_PER_S,
  };
}

function readPidFile(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && readStat(pid) !== null ? pid : null;
  } catch {
    return null;
  }
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

const CMDLINE_PATTERNS: Record<Exclude<ProcessRole, 'node'>, RegExp> = {
  kafka: /kafka\.Kafka\b|kafka-server-start|kafka_2\.\d+/,
  registry: /apicurio|schema-registry|quarkus-run\.jar/,
  postgres: /\bpostgres\s+-D\b|\/postgres\s+-D\b/,
};

/** Main pid of each stack component: pid files first, then a /proc scan. */
export function findStackPids(
  home = path.resolve('.ledgerline'),
): Partial<Record<ProcessRole, number>> {
  const found: Partial<Record<ProcessRole, number>> = { node: process.pid };
  for (const role of ['kafka', 'registry', 'postgres'] as const) {
    const pid = readPidFile(path.join(home, role, `${role}.pid`));
    if (pid !== null) found[role] = pid;
  }
  const missing = (['kafka', 'registry', 'postgres'] as const).filter(
    (r) => found[r] === undefined,
  );
  if (missing.length > 0) {
    for (const pid of allPids()) {
      const line = cmdline(pid);
      for (const role of missing) {
        if (found[role] === undefined && CMDLINE_PATTERNS[role].test(line)) found[role] = pid;
      }
    }
  }
  return found;
}

/**
 * Each role's processes: the pid itself and, for PostgreSQL, the backends it forked (bounded
 * depth). Not the others' children: a Node process that launched the stack is the parent of
 * Kafka and the registry.
 */
function roleTrees(
  pids: Readonly<Record<string, number | undefined>>,
): Map<string, { root: StatLine; members: StatLine[] }> {
  const stats = allPids()
    .map(readStat)
    .filter((s): s is StatLine => s !== null);
  const children = new Map<number, StatLine[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s);
    children.set(s.ppid, list);
  }
  const trees = new Map<string, { root: StatLine; members: StatLine[] }>();
  for (const [role, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    const root = stats.find((s) => s.pid === pid);
    if (root === undefined) continue;
    const members = [root];
    let frontier = role === 'postgres' ? [root.pid] : [];
    for (let depth = 0; depth < 3 && frontier.length > 0; depth += 1) {
      const next: number[] = [];
      for (const parent of frontier) {
        for (const child of children.get(parent) ?? []) {
          members.push(child);
          next.push(child.pid);
        }
      }
      frontier = next;
    }
    trees.set(role, { root, members });
  }
  return trees;
}

/** CPU seconds consumed so far by each role (a process and all its live and reaped children). */
export function cpuSeconds(
  pids: Readonly<Record<string, number | undefined>>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [role, { root, members }] of roleTrees(pids)) {
    // The root's reaped children count for PostgreSQL only (backends that have exited).
    let total = root.cpuS + (role === 'postgres' ? root.childrenCpuS : 0);
    for (const m of members) if (m !== root) total += m.cpuS + m.childrenCpuS;
    result[role] = total;
  }
  return result;
}

/** The three fields of a task's /proc schedstat line, in nanoseconds and scheduling counts. */
export interface Schedstat {
  /** Time spent on a CPU. */
  onCpuNs: number;
  /** Time spent runnable, waiting for a CPU (the run queue). */
  waitingNs: number;
  /** Times the task was put on a CPU. */
  timeslices: number;
}

export function parseSchedstat(text: string): Schedstat {
  const fields = text.trim().split(/\s+/);
  const values = fields.map(Number);
  if (
    fields.length !== 3 ||
    !fields.every((f) => /^\d+$/.test(f)) ||
    !values.every((v) => Number.isSafeInteger(v))
  ) {
    throw new Error(`not a schedstat line: ${JSON.stringify(text)}`);
  }
  const [onCpuNs = 0, waitingNs = 0, timeslices = 0] = values;
  return { onCpuNs, waitingNs, timeslices };
}

/**
 * Nanoseconds a live process's threads have waited for a core (their own counts: exited threads
 * are gone); null when no thread's schedstat could be read (the process exited, or a kernel
 * without schedstat).
 */
function processWaitingNs(pid: number): number | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let waitingNs: number | null = null;
  for (const tid of tids) {
    try {
      const line = parseSchedstat(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
      waitingNs = (waitingNs ?? 0) + line.waitingNs;
    } catch {
      // the thread exited meanwhile
    }
  }
  return waitingNs;
}

/**
 * Seconds each role's live threads have spent runnable but waiting for a core, so far. Over an
 * interval, the difference divided by its length is how many of the role's threads waited on
 * average: on a machine with more runnable threads than cores, the latency nobody's code spends.
 * A role none of whose threads could be read is left out rather than counted as no wait.
 */
export function coreWaitSeconds(
  pids: Readonly<Record<string, number | undefined>>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [role, { members }] of roleTrees(pids)) {
    const waits = members
      .map((m) => processWaitingNs(m.pid))
      .filter((ns): ns is number => ns !== null);
    if (waits.length === 0) continue;
    result[role] = waits.reduce((sum, ns) => sum + ns, 0) / 1e9;
  }
  return result;
}

/** Samples CPU seconds per role; `delta` gives cores busy since the previous sample. */
export class CpuSampler {
  private previous: { atMs: number; cpu: Record<string, number> };

  /** Roles are labels: the stack's components, this process, or any other pid to watch. */
  constructor(readonly pids: Readonly<Record<string, number | undefined>> = findStackPids()) {
    this.previous = { atMs: performance.now(), cpu: cpuSeconds(pids) };
  }

  /** CPU seconds per role so far. */
  totals(): Record<string, number> {
    return cpuSeconds(this.pids);
  }

  /** Seconds per role its live threads have waited for a core so far (see coreWaitSeconds). */
  coreWaitTotals(): Record<string, number> {
    return coreWaitSeconds(this.pids);
  }

  /** Average cores busy per role since the last call. */
  sample(): Record<string, number> {
    const now = performance.now();
    const cpu = cpuSeconds(this.pids);
    const seconds = Math.max(0.001, (now - this.previous.atMs) / 1000);
    const cores: Record<string, number> = {};
    for (const [role, total] of Object.entries(cpu)) {
      cores[role] = Math.max(0, (total - (this.previous.cpu[role] ?? total)) / seconds);
    }
    this.previous = { atMs: now, cpu };
    return cores;
  }
}

/**
 * Live child processes of `pid` running `command` (its /proc comm, e.g. `node`), by pid: the
 * instances a cluster supervisor forked, not a helper such as esbuild's service process.
 */
export function childPids(pid: number, command: string): number[] {
  return allPids()
    .map(readStat)
    .filter((s): s is StatLine => s !== null && s.ppid === pid)
    .filter((s) => {
      try {
        return readFileSync(`/proc/${s.pid}/comm`, 'utf8').trim() === command;
      } catch {
        return false; // exited meanwhile
      }
    })
    .map((s) => s.pid)
    .sort((a, b) => a - b);
}
