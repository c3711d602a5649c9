import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { coreWaitSeconds, cpuSeconds, parseSchedstat } from '../src/procstat.js';
import { eventually } from '../src/testing.js';

test('schedstat: on a CPU, waiting for one, timeslices; anything else is refused', () => {
  expect(parseSchedstat('5123456789 220000 431\n')).toEqual({
    onCpuNs: 5_123_456_789,
    waitingNs: 220_000,
    timeslices: 431,
  });
  expect(() => parseSchedstat('')).toThrow(/not a schedstat line/);
  expect(() => parseSchedstat('-3 1 1')).toThrow(/not a schedstat line/);
  expect(() => parseSchedstat('abc 1 1')).toThrow(/not a schedstat line/);
  expect(() => parseSchedstat('1 2')).toThrow(/not a schedstat line/);
  expect(() => parseSchedstat('1 2 3 4')).toThrow(/not a schedstat line/);
});

function spinner(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

/**
 * Resolves once `pid` runs `command` and sleeps: until then it is still starting (fork, exec,
 * loading), and on a busy machine a starting process waits for a core like any other.
 */
async function asleepIn(pid: number, command: string): Promise<void> {
  await eventually(
    async () => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
      return comm === command && state === 'S' ? true : undefined;
    },
    `process ${pid} to sleep in ${command}`,
    10_000,
    10,
  );
}

test('more busy processes than cores wait for a core; a sleeping one does not', async () => {
  // The sleeper is measured from when it sleeps: its own start-up, on a loaded machine, waits
  // for a core too (60 ms of it once made this test fail under a neighbour's load).
  const idle = spawn('sleep', ['30'], { stdio: 'ignore' });
  let busy: ChildProcess[] = [];
  try {
    await asleepIn(idle.pid!, 'sleep');
    busy = Array.from({ length: availableParallelism() + 2 }, spinner);
    const roles = {
      ...Object.fromEntries(busy.map((p, i) => [`busy${i}`, p.pid])),
      idle: idle.pid,
    };
    const before = coreWaitSeconds(roles);
    const cpuBefore = cpuSeconds(roles);
    await sleep(1_500);
    const after = coreWaitSeconds(roles);
    const cpuAfter = cpuSeconds(roles);
    const busyWait = busy
      .map((_, i) => (after[`busy${i}`] ?? 0) - (before[`busy${i}`] ?? 0))
      .reduce((a, b) => a + b, 0);
    const busyCpu = busy
      .map((_, i) => (cpuAfter[`busy${i}`] ?? 0) - (cpuBefore[`busy${i}`] ?? 0))
      .reduce((a, b) => a + b, 0);
    // Two spinners more than cores: together they wait for about two cores' worth of the
    // interval (less only while they start, or while the test's own process needs a core).
    expect(busyWait).toBeGreaterThan(1.0);
    expect(busyCpu).toBeGreaterThan(0.5);
    expect((after['idle'] ?? 0) - (before['idle'] ?? 0)).toBeLessThan(0.05);
  } finally {
    for (const p of [...busy, idle]) p.kill('SIGKILL');
  }
});

test('a role whose process is gone is left out, not counted as zero', () => {
  expect(coreWaitSeconds({ gone: 2 ** 22 + 7 })).toEqual({});
});
